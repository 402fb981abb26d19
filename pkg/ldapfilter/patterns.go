package ldapfilter

import (
	"regexp"
)

// The admission form of the grammar. A filter is a sequence of tokens:
// "(&", "(|", "(!", an item "(attr=value)", and ")". A filter passes
// admission when it is nothing but tokens (TokenPattern) and they nest as
// one filter (NestingPattern). CEL cannot recurse, so NestingPattern
// spells out every depth up to MaxDepth; it stands for an item with any
// parenthesized text that is no operator, which the token check has
// already proven to be an item (a CEL rule that rebuilt the token list
// instead costs more than the API server allows).
const (
	numericOID = `(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+`
	oid        = `(?:[A-Za-z][A-Za-z0-9-]*|` + numericOID + `)`
	attr       = oid + `(?:;[A-Za-z0-9-]+)*`
	valueChar  = `(?:[^\x00()*\\]|\\[0-9A-Fa-f]{2})`
	dnAttrs    = `:[dD][nN]`
	item       = `\((?:` + attr + `(?:[~<>]=` + valueChar + `*|=(?:` + valueChar + `|\*)*|(?:` + dnAttrs + `)?(?::` + oid + `)?:=` + valueChar + `*)|(?:` + dnAttrs + `)?:` + oid + `:=` + valueChar + `*)\)`

	// TokenPattern matches one token of a filter.
	TokenPattern = `\([&|!]|` + item + `|\)`
)

// NestingPattern matches one filter of tokens nested at most MaxDepth deep.
var NestingPattern = nesting(MaxDepth)

func nesting(depth int) string {
	const item = `\([^&|!()][^()]*\)`
	s := `(?:` + item + `)`
	for range depth {
		s = `(?:` + item + `|\([&|]` + s + `+\)|\(!` + s + `\))`
	}
	return s
}

var (
	allTokens = regexp.MustCompile(`^(?:` + TokenPattern + `)+$`)
	nested    = regexp.MustCompile(`^` + NestingPattern + `$`)
)

// Admitted reports whether the admission rules (CEL, in the CRD) admit
// filter: the Go form of those rules, for tests that hold them against
// Validate.
func Admitted(filter string) (tokensOK, nestingOK bool) {
	tokensOK = allTokens.MatchString(filter)
	return tokensOK, !tokensOK || nested.MatchString(filter)
}
