package desired

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// Secret templates (spec.secretTemplate): Go templates over the values
// Nauthera knows, so that a Secret fits what an application expects.
//
// A template is rendered in two steps. PlanSecret renders everything but
// the client secret: the secret stays a sealed piece (the secret, then
// the encoders applied to it), charged at MaxClientSecretBytes whatever it
// holds. Every check (syntax, functions, sizes, the work budget) and every
// message comes from this step, which never sees the secret, so no outcome
// can depend on it. SecretPlan.Payload then puts the secret in; it cannot
// fail for a template reason.
//
// text/template parses (the syntax users know), but a small evaluator of
// our own runs the tree: text/template's executor cannot keep a value
// sealed, charge a size it does not know, stop with a context or budget
// the strings its functions make.

// Limits of a render.
const (
	// MaxSecretBytes is the most a Secret's data holds (Kubernetes).
	MaxSecretBytes = corev1.MaxSecretSize
	// MaxClientSecretBytes is the size a client secret is charged at in a
	// render, whatever it holds. Keycloak keeps a client secret in a
	// VARCHAR(255) column, which counts characters (code points on
	// PostgreSQL and MySQL's utf8mb4): up to 255 x 4 = 1020 bytes of UTF-8.
	MaxClientSecretBytes = 1024
	// maxValueBytes bounds every string a template makes: a key's value
	// and each function's result.
	maxValueBytes = 64 << 10
	// maxRenderWork bounds the bytes a render's function calls read and
	// write, plus what it outputs, all keys together.
	maxRenderWork = 4 << 20
	// maxCallDepth bounds the nesting of function calls. A pipeline's
	// stages count as the calls they stand for: .x | f | g is g (f .x),
	// two levels, as is g (f .x).
	maxCallDepth = 8
)

// placeholderIssuer stands in for the issuer when it is not known (admission).
const placeholderIssuer = "https://issuer.example.com/realms/r"

// tfunc is a function templates may call: text only, no I/O.
type tfunc struct {
	arity int
	// encoder: takes the client secret (or a value made from it), and its
	// result stays sealed. An encoder never fails.
	encoder bool
	// bound is the most bytes the result can have, from the sizes of the
	// arguments alone.
	bound func(sizes []int) int
	// apply computes the result; text values only, never the secret
	// (except through encode, for encoders).
	apply func(args []string) (string, error)
}

var templateFuncs = map[string]tfunc{
	// upper and lower: an invalid UTF-8 byte becomes U+FFFD (3 bytes).
	"upper": {arity: 1, bound: func(n []int) int { return 3 * n[0] }, apply: func(a []string) (string, error) { return strings.ToUpper(a[0]), nil }},
	"lower": {arity: 1, bound: func(n []int) int { return 3 * n[0] }, apply: func(a []string) (string, error) { return strings.ToLower(a[0]), nil }},
	// quote: at most \xNN for one byte, and the two quotes.
	"quote":  {arity: 1, encoder: true, bound: func(n []int) int { return 4*n[0] + 2 }, apply: func(a []string) (string, error) { return strconv.Quote(a[0]), nil }},
	"b64enc": {arity: 1, encoder: true, bound: func(n []int) int { return base64.StdEncoding.EncodedLen(n[0]) }, apply: func(a []string) (string, error) { return b64(a[0]), nil }},
	"replace": {arity: 3, bound: func(n []int) int {
		if n[0] == 0 {
			return n[2]
		}
		return n[2] + n[2]/n[0]*max(0, n[1]-n[0])
	}, apply: replace},
	"trimPrefix": {arity: 2, bound: func(n []int) int { return n[1] }, apply: func(a []string) (string, error) { return strings.TrimPrefix(a[1], a[0]), nil }},
	"trimSuffix": {arity: 2, bound: func(n []int) int { return n[1] }, apply: func(a []string) (string, error) { return strings.TrimSuffix(a[1], a[0]), nil }},
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// encoders is what the client secret may go through, for messages.
var encoders = func() string {
	var names []string
	for n, f := range templateFuncs {
		if f.encoder {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return strings.Join(names, " and ")
}()

// replace is strings.ReplaceAll without the empty pattern, which would
// multiply the text; the result's size is known before it is made.
func replace(a []string) (string, error) {
	old, repl, s := a[0], a[1], a[2]
	if old == "" {
		return "", fmt.Errorf("replace: the text to replace is empty")
	}
	if n := len(s) + strings.Count(s, old)*(len(repl)-len(old)); n > maxValueBytes {
		return "", fmt.Errorf("replace: the result is over %d bytes", maxValueBytes)
	}
	return strings.ReplaceAll(s, old, repl), nil
}

// piece is one part of a rendered value: text, or the client secret put
// through encoders (in order), which only Payload fills in.
type piece struct {
	text     string
	sealed   bool
	encoders []string
}

// SecretPlan is an AuthClient's Secret data rendered for everything but
// the client secret.
type SecretPlan struct {
	keys map[string][]piece
	// bytes is the most the data can hold, whatever the client secret.
	bytes int
}

// Payload is the Secret's data with secret in it. It fails only for a
// secret Keycloak cannot hold (over MaxClientSecretBytes), whatever the
// template.
func (p *SecretPlan) Payload(secret string) (map[string][]byte, error) {
	if len(secret) > MaxClientSecretBytes {
		return nil, fmt.Errorf("the client secret Keycloak returned is over %d bytes, more than Keycloak stores; not written", MaxClientSecretBytes)
	}
	out := make(map[string][]byte, len(p.keys))
	for k, pieces := range p.keys {
		var b strings.Builder
		for _, pc := range pieces {
			if !pc.sealed {
				b.WriteString(pc.text)
				continue
			}
			v := secret
			for _, e := range pc.encoders {
				v, _ = templateFuncs[e].apply([]string{v}) // encoders never fail
			}
			b.WriteString(v)
		}
		out[k] = []byte(b.String())
	}
	return out, nil
}

// Bytes is the most the Secret's data can hold, whatever the client secret.
func (p *SecretPlan) Bytes() int { return p.bytes }

// SecretValues are the values a template may use, by name, but the client
// secret; hasSecret says whether client_secret is one (a confidential
// client). Secretless clients have token_audience.
func SecretValues(ac *authv1.AuthClient, issuer string) (values map[string]string, hasSecret bool) {
	issuer = strings.TrimRight(issuer, "/")
	oidc := issuer + "/protocol/openid-connect"
	v := map[string]string{
		"client_id":         ac.EffectiveClientID(),
		"issuer_url":        issuer,
		"discovery_url":     issuer + "/.well-known/openid-configuration",
		"authorization_url": oidc + "/auth",
		"token_url":         oidc + "/token",
		"userinfo_url":      oidc + "/userinfo",
		"end_session_url":   oidc + "/logout",
		"jwks_url":          oidc + "/certs",
		"scopes":            "",
		"redirect_uri":      "",
	}
	if ac.Secretless() {
		v[KeyTokenAudience] = TokenAudience(issuer)
	}
	if s := SecretData(ac, issuer, "")[KeyScopes]; len(s) > 0 {
		v["scopes"] = string(s)
	}
	if len(ac.Spec.RedirectURIs) > 0 {
		v["redirect_uri"] = ac.Spec.RedirectURIs[0]
	}
	return v, ac.HasSecret()
}

// PlanSecret renders ac's Secret data for issuer (Nauthera's default keys,
// or what spec.secretTemplate makes of them), all but the client secret,
// and checks the template's labels and annotations. An error names the
// field; nothing is to be written then. ctx stops the render.
func PlanSecret(ctx context.Context, ac *authv1.AuthClient, issuer string) (*SecretPlan, error) {
	values, hasSecret := SecretValues(ac, issuer)
	plan := &SecretPlan{keys: map[string][]piece{}}
	tpl := ac.Spec.SecretTemplate
	if tpl == nil || len(tpl.Data) == 0 || tpl.MergePolicy == authv1.SecretMergeMerge {
		for k, v := range SecretData(ac, issuer, "") {
			plan.keys[k] = []piece{{text: string(v)}}
		}
		if hasSecret {
			plan.keys[KeyClientSecret] = []piece{{sealed: true}}
		}
	}
	if tpl != nil && len(tpl.Data) > 0 {
		r := &render{ctx: ctx, values: values, hasSecret: hasSecret}
		for _, k := range slices.Sorted(maps.Keys(tpl.Data)) {
			pieces, err := r.key(k, tpl.Data[k])
			if err != nil {
				return nil, fmt.Errorf("spec.secretTemplate.data[%s]: %w", k, err)
			}
			plan.keys[k] = pieces
		}
	}
	for _, pieces := range plan.keys {
		plan.bytes += piecesBound(pieces)
	}
	if plan.bytes > MaxSecretBytes {
		return nil, fmt.Errorf("spec.secretTemplate: the data can render up to %d bytes (a client secret counted as %d), more than the %d bytes a Secret holds", plan.bytes, MaxClientSecretBytes, MaxSecretBytes)
	}
	if tpl != nil {
		if err := checkTemplateMetadata(tpl); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// SecretPayload is PlanSecret and Payload in one.
func SecretPayload(ctx context.Context, ac *authv1.AuthClient, issuer, secret string) (map[string][]byte, error) {
	plan, err := PlanSecret(ctx, ac, issuer)
	if err != nil {
		return nil, err
	}
	return plan.Payload(secret)
}

// PlanGovernedSecret is PlanSecret with the scopes the client gets under
// its policies (allowed: their allowedScopes, nil when none restricts
// them), which are what its Secret lists: the reconciler and admission
// render with this one rule.
func PlanGovernedSecret(ctx context.Context, ac *authv1.AuthClient, allowed []string, issuer string) (*SecretPlan, error) {
	shown := ac.DeepCopy()
	shown.Spec.Scopes = GovernedScopes(ac.Spec.Scopes, allowed)
	return PlanSecret(ctx, shown, issuer)
}

// CheckSecretTemplate renders ac's template for issuer (a placeholder when
// "": not known yet) and checks its labels and annotations: what admission
// can tell. The client secret plays no part in any render, so nothing here
// depends on it.
func CheckSecretTemplate(ctx context.Context, ac *authv1.AuthClient, issuer string) error {
	return CheckGovernedSecretTemplate(ctx, ac, nil, issuer)
}

// CheckGovernedSecretTemplate is CheckSecretTemplate for a client whose
// policies allow the scopes allowed (nil: no restriction), rendered as the
// reconciler will render it (PlanGovernedSecret).
func CheckGovernedSecretTemplate(ctx context.Context, ac *authv1.AuthClient, allowed []string, issuer string) error {
	if ac.Spec.SecretTemplate == nil {
		return nil
	}
	if issuer == "" {
		issuer = placeholderIssuer
	}
	_, err := PlanGovernedSecret(ctx, ac, allowed, issuer)
	return err
}

func checkTemplateMetadata(tpl *authv1.SecretTemplate) error {
	for _, k := range slices.Sorted(maps.Keys(tpl.Labels)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.labels[%s]: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(tpl.Labels[k]); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.labels[%s]: %s", k, strings.Join(errs, "; "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tpl.Annotations)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("spec.secretTemplate.annotations[%s]: %s", k, strings.Join(errs, "; "))
		}
	}
	return nil
}

// sealedBound is the most bytes the client secret through encs can have.
func sealedBound(encs []string) int {
	n := MaxClientSecretBytes
	for _, e := range encs {
		n = templateFuncs[e].bound([]int{n})
	}
	return n
}

func piecesBound(pieces []piece) int {
	n := 0
	for _, pc := range pieces {
		if pc.sealed {
			n += sealedBound(pc.encoders)
		} else {
			n += len(pc.text)
		}
	}
	return n
}

// tvalue is a value during a render: text, or the sealed client secret.
type tvalue struct {
	text     string
	sealed   bool
	encoders []string
}

func (v tvalue) size() int {
	if v.sealed {
		return sealedBound(v.encoders)
	}
	return len(v.text)
}

// render runs the templates of one Secret, sharing one work budget.
type render struct {
	ctx       context.Context
	values    map[string]string
	hasSecret bool
	work      int
}

func (r *render) charge(n int) error {
	if r.work += n; r.work > maxRenderWork {
		return fmt.Errorf("the templates take more than %d bytes of work in all (function results and output, a client secret counted as %d): simplify them", maxRenderWork, MaxClientSecretBytes)
	}
	return nil
}

// key renders one key's template.
func (r *render) key(name, text string) ([]piece, error) {
	// Parsed as one tree in a set of its own (text/template's parser, not
	// its Template, which would let a define of the template's own name
	// replace an empty top level): a define or block adds a tree to the
	// set, or takes the top level's place in it, and is refused. The name
	// is one no Secret key has.
	tree, set := parse.New("data["+name+"]"), map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", set, parseFuncs, builtinNames); err != nil {
		return nil, err
	}
	if len(set) != 1 || set[tree.Name] != tree {
		return nil, fmt.Errorf("define and block are not supported")
	}
	var out []piece
	size := 0
	for _, n := range tree.Root.Nodes {
		var pc piece
		switch n := n.(type) {
		case *parse.TextNode:
			pc = piece{text: string(n.Text)}
		case *parse.ActionNode:
			if err := r.ctx.Err(); err != nil {
				return nil, fmt.Errorf("render stopped: %w", err)
			}
			v, err := r.pipe(n.Pipe, 1)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			pc = piece(v)
		default:
			return nil, fmt.Errorf("%s is not supported: a key is text with {{ .value }} actions, not a program", n)
		}
		size += piecesBound([]piece{pc})
		if size > maxValueBytes {
			return nil, fmt.Errorf("renders more than %d bytes", maxValueBytes)
		}
		if err := r.charge(piecesBound([]piece{pc})); err != nil {
			return nil, err
		}
		out = append(out, pc)
	}
	return out, nil
}

// pipe evaluates a pipeline: each command's result is the last argument
// of the next, which must be a function. depth is the nesting so far.
func (r *render) pipe(p *parse.PipeNode, depth int) (tvalue, error) {
	if p == nil || len(p.Decl) > 0 || p.IsAssign {
		return tvalue{}, fmt.Errorf("variables are not supported")
	}
	var prev *tvalue
	for _, c := range p.Cmds {
		v, err := r.command(c, prev, depth)
		if err != nil {
			return tvalue{}, err
		}
		prev = &v
		if _, isFunc := c.Args[0].(*parse.IdentifierNode); isFunc {
			// The next stage takes this call's result: one level deeper,
			// as the call would be in parentheses.
			depth++
		}
	}
	if prev == nil {
		return tvalue{}, fmt.Errorf("empty action")
	}
	return *prev, nil
}

// command evaluates a value, or a function call with prev (the previous
// stage of a pipeline, if any) as its last argument.
func (r *render) command(c *parse.CommandNode, prev *tvalue, depth int) (tvalue, error) {
	id, isFunc := c.Args[0].(*parse.IdentifierNode)
	if !isFunc {
		if len(c.Args) > 1 || prev != nil {
			return tvalue{}, fmt.Errorf("%s is not a function: only functions take arguments", c.Args[0])
		}
		return r.operand(c.Args[0], depth)
	}
	f, known := templateFuncs[id.Ident]
	if !known {
		return tvalue{}, fmt.Errorf("function %q is not supported (use %s)", id.Ident, strings.Join(slices.Sorted(maps.Keys(templateFuncs)), ", "))
	}
	if depth > maxCallDepth {
		return tvalue{}, fmt.Errorf("function calls are nested more than %d deep", maxCallDepth)
	}
	nargs := len(c.Args) - 1
	if prev != nil {
		nargs++
	}
	if nargs != f.arity {
		return tvalue{}, fmt.Errorf("%s takes %d argument(s), got %d", id.Ident, f.arity, nargs)
	}
	args := make([]tvalue, 0, f.arity)
	for _, a := range c.Args[1:] {
		v, err := r.operand(a, depth+1)
		if err != nil {
			return tvalue{}, err
		}
		args = append(args, v)
	}
	if prev != nil {
		args = append(args, *prev)
	}
	return r.call(id.Ident, f, args)
}

// call applies f. Which arguments are sealed is fixed by the template's
// text, never by a value: so is the answer.
func (r *render) call(name string, f tfunc, args []tvalue) (tvalue, error) {
	if err := r.ctx.Err(); err != nil {
		return tvalue{}, fmt.Errorf("render stopped: %w", err)
	}
	sizes := make([]int, len(args))
	in := 0
	for i, a := range args {
		if a.sealed && !f.encoder {
			return tvalue{}, fmt.Errorf("%s cannot take client_secret, or a value made from it: only %s can, so that no outcome depends on the secret", name, encoders)
		}
		sizes[i] = a.size()
		in += sizes[i]
	}
	out := f.bound(sizes)
	if err := r.charge(in + min(out, maxValueBytes)); err != nil {
		return tvalue{}, err
	}
	if args[0].sealed {
		// An encoder of the sealed secret: recorded, applied in Payload.
		if out > maxValueBytes {
			return tvalue{}, fmt.Errorf("%s: the result can be over %d bytes (a client secret counted as %d)", name, maxValueBytes, MaxClientSecretBytes)
		}
		return tvalue{sealed: true, encoders: append(slices.Clone(args[0].encoders), name)}, nil
	}
	texts := make([]string, len(args))
	for i, a := range args {
		texts[i] = a.text
	}
	// Text values (no secret): the real size decides; replace knows it
	// before it makes the result.
	s, err := f.apply(texts)
	if err != nil {
		return tvalue{}, err
	}
	if len(s) > maxValueBytes {
		return tvalue{}, fmt.Errorf("%s: the result is over %d bytes", name, maxValueBytes)
	}
	return tvalue{text: s}, nil
}

// operand evaluates an argument: a value (.name), a string, or a
// parenthesized pipeline.
func (r *render) operand(n parse.Node, depth int) (tvalue, error) {
	switch n := n.(type) {
	case *parse.FieldNode:
		if len(n.Ident) != 1 {
			return tvalue{}, fmt.Errorf("%s: only plain values such as .client_id are supported", n)
		}
		name := n.Ident[0]
		if name == KeyClientSecret && r.hasSecret {
			return tvalue{sealed: true}, nil
		}
		v, ok := r.values[name]
		if !ok {
			known := slices.Collect(maps.Keys(r.values))
			if r.hasSecret {
				known = append(known, KeyClientSecret)
			}
			slices.Sort(known)
			return tvalue{}, fmt.Errorf("map has no entry for key %q (known: %s)", name, strings.Join(known, ", "))
		}
		return tvalue{text: v}, nil
	case *parse.StringNode:
		return tvalue{text: n.Text}, nil
	case *parse.PipeNode:
		return r.pipe(n, depth)
	case *parse.IdentifierNode:
		return tvalue{}, fmt.Errorf("function %q is not supported here: call it in parentheses, (%s ...)", n.Ident, n.Ident)
	default:
		return tvalue{}, fmt.Errorf("%s is not supported: print values (.client_id), strings and %s", n, strings.Join(slices.Sorted(maps.Keys(templateFuncs)), ", "))
	}
}

// builtinNames are text/template's built-in functions: parsed, so that the
// evaluator names them as not supported (the parser would only say "not
// defined").
var builtinNames = func() map[string]any {
	m := map[string]any{}
	for _, name := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		m[name] = func(...any) any { return nil }
	}
	return m
}()

// parseFuncs lets text/template's parser accept calls of templateFuncs
// (it refuses unknown names); they are never executed by it.
var parseFuncs = func() map[string]any {
	m := map[string]any{}
	for name := range templateFuncs {
		m[name] = func(...string) string { return "" }
	}
	return m
}()
