package ldapfilter

import (
	"strings"
	"testing"
)

// Filters as directories use them, and what RFC 4515 allows at its edges.
var wellFormed = []string{
	"(objectClass=inetOrgPerson)",
	"(objectClass=*)",
	"(cn=)",
	"(cn=J*n*Doe)",
	"(cn=*smith)",
	"(cn=a**b)",
	"(sn~=smyth)",
	"(uidNumber>=1000)",
	"(uidNumber<=1000)",
	"(cn=Sales\\2c EMEA)",
	"(cn=\\28parens\\29 and \\2a and \\5c)",
	"(cn=Ωmega müller)",
	"(cn;lang-de=x)",
	"(2.5.4.3=x)",
	"(cn:caseExactMatch:=Fred)",
	"(cn:dn:=x)",
	"(cn:DN:2.5.13.5:=x)",
	"(:dn:2.4.6.8.10:=Dino)",
	"(:1.2.3:=x)",
	"(:dn:=x)", // the matching rule named dn
	"(userAccountControl:1.2.840.113556.1.4.803:=2)",
	"(!(cn=x))",
	"(&(objectClass=person)(|(memberOf=cn=a,ou=groups,dc=example,dc=com)(memberOf=cn=b,ou=groups,dc=example,dc=com)))",
	"(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
	"(&(a=1)(&(b=2)(&(c=3)(&(d=4)(&(e=5)(&(f=6)(g=7)))))))", // six deep
}

var malformed = []string{
	"",
	"objectClass=person",
	"()",
	"(&(objectClass=person)",
	"(a=1))((b=2)",
	"(a=1)(b=2)",
	"((a=1))",
	"(&)",
	"(|)",
	"(!)",
	"(!(a=1)(b=2))",
	"(=x)",
	"(a b=x)",
	"(_a=x)",
	"(a=(x)",
	"(a=x\x00)",
	"(a=\\zz)",
	"(a=\\2)",
	"(a~=x*)",
	"(a>=*)",
	"(a:=x*)",
	"(:=x)",
	"(a:dn)",
	"(01.2=x)",
	"(1=x)",
	"(a;=x)",
	"(& (a=1))",
	"(a=1) ",
	" (a=1)",
	"(&(a=1)(&(b=2)(&(c=3)(&(d=4)(&(e=5)(&(f=6)(&(g=7)(h=8))))))))", // seven deep
}

func TestValidate(t *testing.T) {
	for _, f := range wellFormed {
		if err := Validate(f); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", f, err)
		}
	}
	for _, f := range malformed {
		err := Validate(f)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want an error", f)
			continue
		}
		if !strings.HasPrefix(err.Error(), "at position ") && err.Error() != "not valid UTF-8" {
			t.Errorf("Validate(%q) = %q: says not where", f, err)
		}
	}
}

// The admission rules (the Go form of the CRD's CEL) and Validate decide
// alike on every filter above and on the malformed ones built from each.
func TestAdmissionAgreesWithValidate(t *testing.T) {
	all := append(append([]string{}, wellFormed...), malformed...)
	for _, f := range wellFormed {
		// Cut, doubled, wrapped, unbalanced: each must be refused or
		// accepted by both alike.
		all = append(all, f[:len(f)-1], f+f, "("+f+")", "(&"+f+")", "(!"+f+f+")", strings.Replace(f, "(", "((", 1), strings.Replace(f, "=", "", 1))
	}
	for _, f := range all {
		tokensOK, nestingOK := Admitted(f)
		admitted := tokensOK && nestingOK
		if valid := Validate(f) == nil; admitted != valid {
			t.Errorf("%q: admission %v (tokens %v, nesting %v), Validate %v", f, admitted, tokensOK, nestingOK, Validate(f))
		}
	}
}
