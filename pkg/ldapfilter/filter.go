// Package ldapfilter checks LDAP search filters (RFC 4515), the way the
// UserStore's filters reach Keycloak: as the text of one filter.
//
// Two forms of one grammar live here. Validate parses a filter fully, for
// the reconciler. The CRD refuses the same filters at admission with CEL
// rules built from the regular expressions below (TokenPattern,
// NestingPattern); a test checks that the markers in apis/ hold exactly
// these and that both forms agree.
//
// Hand-written, not github.com/go-ldap/ldap/v3's CompileFilter: that
// compiles filters into requests and accepts text that is no filter, such
// as "((a=1))", "(a b=x)", "(=x)", "(a=(x)" and a NUL in a value, and it would
// bring four modules for one function.
package ldapfilter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth is how deep &, | and ! may nest. CEL has no recursion, so
// admission checks nesting with a regular expression that grows with the
// depth (twice per level); six levels are more than directory filters use.
const MaxDepth = 6

// Validate returns nil when filter is one LDAP filter as RFC 4515 writes
// it, nested at most MaxDepth deep, and otherwise what is wrong and where.
func Validate(filter string) error {
	if !utf8.ValidString(filter) {
		return fmt.Errorf("not valid UTF-8")
	}
	p := &parser{s: filter}
	if err := p.filter(0); err != nil {
		return err
	}
	if p.i != len(p.s) {
		return p.errorf("text after the end of the filter (one filter only: join several with (&...) or (|...))")
	}
	return nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("at position %d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// filter = "(" ( ("&" / "|") 1*filter / "!" filter / item ) ")"
func (p *parser) filter(depth int) error {
	if p.peek() != '(' {
		return p.errorf(`expected "("`)
	}
	p.i++
	switch c := p.peek(); c {
	case '&', '|', '!':
		if depth >= MaxDepth {
			return p.errorf("&, | and ! nest more than %d deep", MaxDepth)
		}
		p.i++
		n := 0
		for p.peek() == '(' {
			if c == '!' && n == 1 {
				return p.errorf(`"!" takes exactly one filter`)
			}
			if err := p.filter(depth + 1); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return p.errorf(`expected a filter after "%c"`, c)
		}
	default:
		if err := p.item(); err != nil {
			return err
		}
	}
	if p.peek() != ')' {
		return p.errorf(`expected ")"`)
	}
	p.i++
	return nil
}

// item = attr ("=" / "~=" / ">=" / "<=") value, where "=" also takes the
// stars of presence and substrings; or the extensible match
// [attr] [":dn"] [":" rule] ":=" value (attr or rule required).
func (p *parser) item() error {
	hasAttr := false
	if isAlnum(p.peek()) {
		if err := p.attributeDescription(); err != nil {
			return err
		}
		hasAttr = true
	}
	switch {
	case hasAttr && p.peek() == '=':
		p.i++
		return p.value(true)
	case hasAttr && strings.HasPrefix(p.s[p.i:], "~="), hasAttr && strings.HasPrefix(p.s[p.i:], ">="), hasAttr && strings.HasPrefix(p.s[p.i:], "<="):
		p.i += 2
		return p.value(false)
	case p.peek() == ':':
		return p.extensible(hasAttr)
	case hasAttr:
		return p.errorf(`expected "=", "~=", ">=", "<=" or ":" after the attribute`)
	default:
		return p.errorf(`expected an attribute name, "&", "|" or "!"`)
	}
}

func (p *parser) extensible(hasAttr bool) error {
	dn := false
	if len(p.s)-p.i >= 3 && strings.EqualFold(p.s[p.i:p.i+3], ":dn") && (len(p.s) == p.i+3 || p.s[p.i+3] == ':') {
		p.i, dn = p.i+3, true
	}
	hasRule := false
	if p.peek() == ':' && p.i+1 < len(p.s) && p.s[p.i+1] != '=' {
		p.i++
		if err := p.oid("matching rule"); err != nil {
			return err
		}
		hasRule = true
	}
	if !hasAttr && !hasRule && !dn {
		// (":dn:=x" alone reads as the matching rule named dn.)
		return p.errorf("an extensible match needs an attribute or a matching rule")
	}
	if !strings.HasPrefix(p.s[p.i:], ":=") {
		return p.errorf(`expected ":="`)
	}
	p.i += 2
	return p.value(false)
}

// attributeDescription = oid *(";" option)
func (p *parser) attributeDescription() error {
	if err := p.oid("attribute"); err != nil {
		return err
	}
	for p.peek() == ';' {
		p.i++
		start := p.i
		for isKeychar(p.peek()) {
			p.i++
		}
		if p.i == start {
			return p.errorf(`expected an attribute option after ";"`)
		}
	}
	return nil
}

// oid = keystring (a letter, then letters, digits, hyphens) / numericoid
// (numbers without leading zeros, two or more, dot-separated).
func (p *parser) oid(what string) error {
	switch c := p.peek(); {
	case isAlpha(c):
		for isKeychar(p.peek()) {
			p.i++
		}
		return nil
	case isDigit(c):
		parts := 0
		for {
			if !isDigit(p.peek()) {
				return p.errorf("expected a number in the %s OID", what)
			}
			if p.peek() == '0' && p.i+1 < len(p.s) && isDigit(p.s[p.i+1]) {
				return p.errorf("a number with a leading zero in the %s OID", what)
			}
			for isDigit(p.peek()) {
				p.i++
			}
			parts++
			if p.peek() != '.' {
				break
			}
			p.i++
		}
		if parts < 2 {
			return p.errorf("the %s OID needs two or more numbers", what)
		}
		return nil
	default:
		return p.errorf("expected a %s name or OID", what)
	}
}

// value reads an assertion value up to ")": any character but NUL, "(",
// ")", "*" and "\", or "\" and two hex digits; stars (presence,
// substrings) only where stars is set.
func (p *parser) value(stars bool) error {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case ')':
			return nil
		case '(':
			return p.errorf(`"(" in a value must be escaped as \28`)
		case 0:
			return p.errorf("a NUL in a value must be escaped as \\00")
		case '*':
			if !stars {
				return p.errorf(`"*" in this value must be escaped as \2a`)
			}
			p.i++
		case '\\':
			if p.i+2 >= len(p.s) || !isHex(p.s[p.i+1]) || !isHex(p.s[p.i+2]) {
				return p.errorf(`"\" must start an escape of two hex digits (\5c for "\" itself)`)
			}
			p.i += 3
		default:
			p.i++
		}
	}
	return nil // the caller expects ")"
}

func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool   { return isAlpha(c) || isDigit(c) }
func isKeychar(c byte) bool { return isAlnum(c) || c == '-' }
func isHex(c byte) bool     { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
