package desired

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	authv1 "github.com/nauthera/nauthera/apis/auth/v1alpha1"
)

// testSecrets are client secrets of every kind a template could react to:
// empty, short, Keycloak-like, at and over the sizes a function's cap could
// hit, every byte value, invalid UTF-8, and the characters a replace, a
// trim, a quote or a template would treat specially.
func testSecrets() []string {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []string{
		"", "a", "s3cr3t", "placeholder-secret", "Zq8vN2kLw5xR7tY1uI3oP6aS9dF4gH0j",
		strings.Repeat("a", 255), strings.Repeat("/", 255), strings.Repeat("€", 255), strings.Repeat("x", MaxClientSecretBytes),
		string(all), "\xff\xfe\xfd\x80", "\x00\n\r\t\x7f", `"\'%s%v%!`, `.*+?()[]{}|^$\`, "{{ .client_id }}", "}}{{",
		"https://", "==", "ИВАН🔑", "placeholder-secret\x00",
	}
}

// secretConstructs are templates using every construct the engine admits
// (each value, each function called and piped, encoders of the secret
// nested, sizes at the limits) and those it refuses.
func secretConstructs() []map[string]string {
	one := func(t string) map[string]string { return map[string]string{"K": t} }
	var out []map[string]string
	for _, v := range []string{"client_id", "client_secret", "issuer_url", "discovery_url", "authorization_url", "token_url",
		"userinfo_url", "end_session_url", "jwks_url", "scopes", "redirect_uri"} {
		out = append(out, one("{{ ."+v+" }}"), one("x={{ ."+v+" }};"))
	}
	big := `{{ replace "x" "` + strings.Repeat("x", 4000) + `" "xxxxxxxxxxxxxxxx" }}` // 64000 bytes
	for _, t := range []string{
		"fixed value", "",
		// Every function on text values, called and piped.
		`{{ upper .client_id }}`, `{{ .client_id | upper }}`, `{{ lower .issuer_url }}`, `{{ .issuer_url | lower }}`,
		`{{ quote .client_id }}`, `{{ .client_id | quote }}`, `{{ b64enc .client_id }}`, `{{ .token_url | b64enc }}`,
		`{{ replace "." "_" .client_id }}`, `{{ .issuer_url | replace "/" "_" }}`, `{{ trimPrefix "https://" .issuer_url }}`,
		`{{ .issuer_url | trimSuffix "/r" }}`, `{{ "lit" }}`, `{{ ("lit") }}`, `{{ upper (lower (trimPrefix "x" .client_id)) }}`,
		// Encoders of the secret, nested, mixed with text.
		`{{ b64enc .client_secret }}`, `{{ .client_secret | quote }}`, `{{ .client_secret | b64enc | quote }}`,
		`{{ quote (b64enc .client_secret) }}`, `{{ b64enc (b64enc (b64enc .client_secret)) }}`, `{{ quote (quote .client_secret) }}`,
		`{{ .client_id }}:{{ .client_secret }}@{{ .issuer_url }}`, `{{ b64enc (quote .client_secret) }}{{ upper .client_id }}`,
		// Sizes at the limits: decided by the charged size of a secret.
		`{{ quote (quote (quote .client_secret)) }}`, big + `{{ .client_secret }}`, big + `{{ b64enc .client_secret }}`,
		big + `{{ quote .client_secret }}`, big + `{{ .client_secret }}{{ .client_secret }}`,
		`{{ replace "/" "////////////////" (replace "/" "////////////////" (replace "/" "////////////////" (replace "/" "////////////////" .issuer_url))) }}`,
		// The secret where it could change an outcome: refused.
		`{{ upper .client_secret }}`, `{{ lower .client_secret }}`, `{{ replace "a" "` + strings.Repeat("b", 1000) + `" .client_secret }}`,
		`{{ replace .client_secret "x" .issuer_url }}`, `{{ replace "/" .client_secret .issuer_url }}`, `{{ trimPrefix .client_secret .client_id }}`,
		`{{ trimSuffix "x" .client_secret }}`, `{{ .client_secret | b64enc | upper }}`, `{{ replace "=" "" (b64enc .client_secret) }}`,
		`{{ .client_secret | trimPrefix "s" }}`,
		// Nesting.
		`{{ upper (upper (upper (upper (upper (upper (upper (upper .client_id))))))) }}`,
		`{{ upper (upper (upper (upper (upper (upper (upper (upper (upper .client_id)))))))) }}`,
		`{{ .client_secret | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc }}`,
		`{{ .client_secret | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc | b64enc }}`,
		// Everything else: refused, whatever the secret.
		`{{ .clientSecret }}`, `{{ upper }}`, `{{ upper .client_id .client_secret }}`, `{{ .client_id | .client_secret }}`,
		`{{ .client_secret "x" }}`, `{{ index .client_secret 0 }}`, `{{ len .client_secret }}`, `{{ printf "%s" .client_secret }}`,
		`{{ slice .client_secret 1 }}`, `{{ eq .client_secret "s3cr3t" }}`, `{{ if eq .client_secret "x" }}a{{ end }}`,
		`{{ with .client_secret }}{{ . }}{{ end }}`, `{{ range .client_secret }}x{{ end }}`, `{{ $x := .client_secret }}{{ $x }}`,
		`{{ replace "" "x" .client_id }}`, `{{ .client_secret.x }}`, `{{ . }}`, `{{ "a" | "b" }}`, `{{ 1 }}`, `{{ nil }}`, `{{ true }}`,
		`{{ b64enc }}`, `{{ html .client_secret }}`, `{{ urlquery .client_secret }}`, `{{ js .client_secret }}`, `{{ call .client_secret }}`,
		`{{ block "b" . }}{{ end }}`, `{{ template "x" }}`, `{{ .client_secret `,
	} {
		out = append(out, one(t))
	}
	// Many keys: the Secret's 1 MiB, counted with the secret's charged size.
	for _, n := range []int{16, 17} {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("K%02d", i)] = big + `{{ .client_secret }}`
		}
		out = append(out, m)
	}
	return out
}

// reference renders data as text/template would with the real secret: what
// a template that renders must produce.
func reference(t *testing.T, data map[string]string, values map[string]string) map[string]string {
	t.Helper()
	funcs := template.FuncMap{
		"upper": strings.ToUpper, "lower": strings.ToLower, "quote": strconv.Quote, "b64enc": b64,
		"replace":    func(o, n, s string) string { return strings.ReplaceAll(s, o, n) },
		"trimPrefix": func(p, s string) string { return strings.TrimPrefix(s, p) },
		"trimSuffix": func(x, s string) string { return strings.TrimSuffix(s, x) },
	}
	out := map[string]string{}
	for k, text := range data {
		var b bytes.Buffer
		if err := template.Must(template.New(k).Funcs(funcs).Option("missingkey=error").Parse(text)).Execute(&b, values); err != nil {
			t.Fatalf("reference render of %q: %v", text, err)
		}
		out[k] = b.String()
	}
	return out
}

// Issue 21, item 1: whether a template renders, and every word of its
// error, is the same whatever the client secret holds; a template that
// renders puts the real secret (encoded as asked) where text/template
// would.
func TestSecretTemplateOutcomeIndependentOfSecret(t *testing.T) {
	ctx := context.Background()
	renders, refused := 0, 0
	for _, data := range secretConstructs() {
		for _, merge := range []authv1.SecretMergePolicy{authv1.SecretMergeReplace, authv1.SecretMergeMerge} {
			ac := &authv1.AuthClient{}
			ac.Name, ac.Namespace = "app", "team"
			ac.Spec.Scopes = []string{"profile"}
			ac.Spec.RedirectURIs = []string{"https://app.example.com/cb"}
			ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: data, MergePolicy: merge}
			var first *string
			for _, secret := range testSecrets() {
				out, err := SecretPayload(ctx, ac, testIssuer, secret)
				got := ""
				if err != nil {
					got = err.Error()
					if strings.Contains(got, secret) && len(secret) > 3 && !strings.Contains(fmt.Sprint(data), secret) {
						t.Errorf("%v: the error carries the secret", data)
					}
				}
				if first == nil {
					first = &got
				} else if got != *first {
					t.Fatalf("%.120v (%s): secret %q gives %q, another %q", data, merge, secret, got, *first)
				}
				if err != nil {
					continue
				}
				// The size charged is an upper bound of the real one.
				plan, _ := PlanSecret(ctx, ac, testIssuer)
				size := 0
				for _, v := range out {
					size += len(v)
				}
				if size > plan.Bytes() {
					t.Fatalf("%.120v: %d bytes written, %d charged", data, size, plan.Bytes())
				}
				values, _ := SecretValues(ac, testIssuer)
				values[KeyClientSecret] = secret
				for k, want := range reference(t, data, values) {
					if string(out[k]) != want {
						t.Fatalf("%v: key %s is %q, want %q", data, k, out[k], want)
					}
				}
				if merge == authv1.SecretMergeMerge && string(out[KeyClientSecret]) != secret && data[KeyClientSecret] == "" {
					t.Fatalf("%v: Merge lost the default client_secret", data)
				}
			}
			if *first == "" {
				renders++
			} else {
				refused++
			}
		}
	}
	// Both kinds are exercised, so the comparison above means something.
	if renders < 40 || refused < 40 {
		t.Errorf("%d constructs render and %d are refused", renders, refused)
	}
}

// Refusals name what to change, and a secret is refused where it could
// decide an outcome.
func TestSecretTemplateLimits(t *testing.T) {
	ctx := context.Background()
	ac := func(data map[string]string) *authv1.AuthClient {
		a := &authv1.AuthClient{}
		a.Name, a.Namespace = "app", "team"
		a.Spec.SecretTemplate = &authv1.SecretTemplate{Data: data}
		return a
	}
	nested := func(n int) string {
		return "{{ " + strings.Repeat("upper (", n-1) + "upper .client_id" + strings.Repeat(")", n-1) + " }}"
	}
	if err := CheckSecretTemplate(ctx, ac(map[string]string{"K": nested(8)}), ""); err != nil {
		t.Errorf("8 nested calls: %v", err)
	}
	big := `{{ replace "x" "` + strings.Repeat("x", 4000) + `" "xxxxxxxxxxxxxxxx" }}{{ .client_secret }}`
	many := map[string]string{}
	for i := range 17 {
		many[fmt.Sprintf("K%02d", i)] = big
	}
	for _, c := range []struct {
		data map[string]string
		want string
	}{
		{map[string]string{"K": nested(9)}, "spec.secretTemplate.data[K]: line 1: function calls are nested more than 8 deep"},
		{map[string]string{"K": `{{ upper .client_secret }}`}, "upper cannot take client_secret, or a value made from it: only b64enc and quote can"},
		{map[string]string{"K": `{{ replace "=" "" (b64enc .client_secret) }}`}, "replace cannot take client_secret"},
		{map[string]string{"K": `{{ quote (quote (quote .client_secret)) }}`}, "quote: the result can be over 65536 bytes (a client secret counted as 1024)"},
		{map[string]string{"K": `{{ upper }}`}, "upper takes 1 argument(s), got 0"},
		{map[string]string{"K": `{{ .client_id | .client_secret }}`}, "is not a function"},
		{many, "spec.secretTemplate: the data can render up to 1105408 bytes (a client secret counted as 1024), more than the 1048576 bytes a Secret holds"},
	} {
		err := CheckSecretTemplate(ctx, ac(c.data), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.80v: error %v, want %q", c.data, err, c.want)
		}
	}
}

// costlyKey is the case: one key of nested calls that admission
// accepted, each copying a 64 KiB string (0.3 s and 14 MiB per key).
func costlyKey() string {
	s := `replace "/" "` + strings.Repeat("a", 1000) + `" (replace "/" "////////////////" .issuer_url)`
	for n := 0; len(s)+40 < 4096; n++ {
		s = fmt.Sprintf(`replace %q %q (%s)`, string(rune('a'+n%2)), string(rune('b'-n%2)), s)
	}
	return "{{ " + s + " }}"
}

// wideKey stays within the nesting: many actions each making a 64 KiB
// string from the issuer and using it as a pattern, printing one byte.
func wideKey() string {
	action := `{{ replace (replace "/" "` + strings.Repeat("/", 250) + `" (replace "/" "////////////////" .issuer_url)) "" "x" }}`
	return strings.Repeat(action, 4096/len(action))
}

// Issue 21, item 2: the work of a render is bounded, intermediates
// included: the 50 keys, and 50 keys that nest little but call
// much, are refused after a bounded amount of work, memory and time.
func TestSecretTemplateCostIsBounded(t *testing.T) {
	for name, c := range map[string]struct {
		key, want string
	}{
		"nested": {costlyKey(), "nested more than 8 deep"},
		"wide":   {wideKey(), "the templates take more than 4194304 bytes of work in all"},
	} {
		if len(c.key) > 4096 {
			t.Fatalf("%s: %d characters, more than the CRD allows", name, len(c.key))
		}
		data := map[string]string{}
		for i := range 50 {
			data[fmt.Sprintf("K%02d", i)] = c.key
		}
		ac := &authv1.AuthClient{}
		ac.Name, ac.Namespace = "app", "team"
		ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: data}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := CheckSecretTemplate(context.Background(), ac, "")
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: 50 keys refused in %s, %d KiB allocated", name, took, alloc>>10)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
		// Before the budget: 15 s and 536 MiB for the nested case.
		if alloc > 32<<20 {
			t.Errorf("%s: a refused render allocated %d MiB", name, alloc>>20)
		}
	}
}

// The most a render can cost: the work budget spent to the last byte.
func BenchmarkSecretTemplateWorstCase(b *testing.B) {
	for name, key := range map[string]string{"nested": costlyKey(), "wide": wideKey()} {
		data := map[string]string{}
		for i := range 50 {
			data[fmt.Sprintf("K%02d", i)] = key
		}
		ac := &authv1.AuthClient{}
		ac.Name, ac.Namespace = "app", "team"
		ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: data}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = CheckSecretTemplate(context.Background(), ac, "")
			}
		})
	}
}

// A render stops with its context (the webhook's request).
func TestSecretTemplateStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ac := &authv1.AuthClient{}
	ac.Name, ac.Namespace = "app", "team"
	ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"K": wideKey()}}
	err := CheckSecretTemplate(ctx, ac, "")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "spec.secretTemplate.data[K]") {
		t.Errorf("a render under a cancelled context: %v", err)
	}
}

// The plan puts a secret in exactly where the template says, encoded as
// asked; a secret Keycloak cannot hold is refused, whatever the template.
func TestSecretPlanPayload(t *testing.T) {
	ac := &authv1.AuthClient{}
	ac.Name, ac.Namespace = "app", "team"
	ac.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"B": "{{ .client_secret | b64enc }}", "Q": "{{ quote .client_secret }}"}}
	plan, err := PlanSecret(context.Background(), ac, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.Payload("p@ss\"word")
	if err != nil || string(out["B"]) != base64.StdEncoding.EncodeToString([]byte("p@ss\"word")) || string(out["Q"]) != `"p@ss\"word"` {
		t.Errorf("payload %q, %v", out, err)
	}
	if plan.Bytes() != base64.StdEncoding.EncodedLen(MaxClientSecretBytes)+4*MaxClientSecretBytes+2 {
		t.Errorf("bound %d", plan.Bytes())
	}
	if _, err := plan.Payload(strings.Repeat("x", MaxClientSecretBytes+1)); err == nil {
		t.Error("a secret over what Keycloak stores was written")
	}
}

// Issue 21 review, item 5: a pipeline's stages count as the nested calls
// they stand for, so ".x | f" eight times is as deep as eight nested calls.
func TestPipelinesNestLikeCalls(t *testing.T) {
	ctx := context.Background()
	ac := func(text string) *authv1.AuthClient {
		a := &authv1.AuthClient{}
		a.Name, a.Namespace = "app", "team"
		a.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"K": text}}
		return a
	}
	nested := func(n int) string {
		return "{{ " + strings.Repeat("upper (", n-1) + "upper .client_id" + strings.Repeat(")", n-1) + " }}"
	}
	piped := func(n int) string { return "{{ .client_id" + strings.Repeat(" | upper", n) + " }}" }
	mixed := func(n int) string { // upper (.client_id | upper | ... ) : one call, then a pipeline inside it
		return "{{ upper (.client_id" + strings.Repeat(" | upper", n-1) + ") }}"
	}
	for name, form := range map[string]func(int) string{"nested": nested, "piped": piped, "mixed": mixed} {
		if err := CheckSecretTemplate(ctx, ac(form(8)), ""); err != nil {
			t.Errorf("%s, 8 deep: %v", name, err)
		}
		if err := CheckSecretTemplate(ctx, ac(form(9)), ""); err == nil || !strings.Contains(err.Error(), "nested more than 8 deep") {
			t.Errorf("%s, 9 deep: %v", name, err)
		}
	}
}

// Issue 21 review, item 6: a define (or block) is refused whatever its
// name, also one that would replace the key's empty top-level template.
func TestDefineIsRefusedWhateverItsName(t *testing.T) {
	for _, text := range []string{
		`{{ define "K" }}{{ .client_id }}{{ end }}`,
		`{{ define "data[K]" }}{{ .client_id }}{{ end }}`,
		`{{ define "other" }}{{ .client_id }}{{ end }}`,
		`{{ block "K" . }}{{ .client_id }}{{ end }}`,
	} {
		a := &authv1.AuthClient{}
		a.Name, a.Namespace = "app", "team"
		a.Spec.SecretTemplate = &authv1.SecretTemplate{Data: map[string]string{"K": text}}
		err := CheckSecretTemplate(context.Background(), a, "")
		if err == nil || !strings.Contains(err.Error(), "spec.secretTemplate.data[K]") || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: %v", text, err)
		}
	}
}
