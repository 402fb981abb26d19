// Command probe is the application of the cluster test bed's proofs: it runs
// in a pod, reads an AuthClient's Secret as the files the kubelet mounts
// (token_url, client_id, client_secret) and asks Keycloak for a
// client-credentials token, like an app that has nothing but those files.
//
//	probe [--dir /etc/oidc] [--every 200ms] [--for 0] [--env]
//
// With --env it reads TOKEN_URL, CLIENT_ID and CLIENT_SECRET from its
// environment instead (an app whose env comes from the Secret). With
// --assertion FILE it is a secretless client: it sends the projected
// service-account token in FILE as client_assertion, and no secret.
//
// Each attempt prints one JSON line: the time, whether Keycloak issued a
// token, the HTTP status, and whether the mounted client_secret changed
// since the last attempt (never the secret itself). With --for 0 it tries
// once and exits 0 only if a token was issued.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type attempt struct {
	Time          time.Time `json:"time"`
	OK            bool      `json:"ok"`
	Status        int       `json:"status,omitempty"`
	Error         string    `json:"error,omitempty"`
	SecretChanged bool      `json:"secretChanged,omitempty"`
	TokenType     string    `json:"tokenType,omitempty"`
}

func main() {
	dir := flag.String("dir", "/etc/oidc", "where the Secret is mounted")
	every := flag.Duration("every", 200*time.Millisecond, "time between attempts")
	runFor := flag.Duration("for", 0, "how long to keep trying (0: once)")
	fromEnv := flag.Bool("env", false, "read TOKEN_URL, CLIENT_ID, CLIENT_SECRET from the environment")
	flag.StringVar(&assertionFile, "assertion", "", "a projected service-account token to authenticate with instead of client_secret")
	flag.Parse()
	if *fromEnv {
		read = func(_, key string) ([]byte, error) {
			v, ok := os.LookupEnv(strings.ToUpper(key))
			if !ok {
				return nil, fmt.Errorf("no %s in the environment", strings.ToUpper(key))
			}
			return []byte(strings.TrimSpace(v)), nil
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	var last []byte
	deadline := time.Now().Add(*runFor)
	// The app's own request cadence: one attempt per tick, however long an
	// attempt takes (a ticker drops ticks rather than piling them up). It
	// lives as long as the process, which ends with this loop.
	tick := time.NewTicker(*every)
	for {
		a, secret := tryOnce(client, *dir)
		a.SecretChanged = last != nil && !bytes.Equal(last, secret)
		last = secret
		line, _ := json.Marshal(a)
		fmt.Println(string(line))
		if *runFor == 0 {
			if !a.OK {
				os.Exit(1)
			}
			return
		}
		if time.Now().After(deadline) {
			return
		}
		<-tick.C
	}
}

var assertionFile string

// read returns one value of the Secret: a mounted file, or (--env) a variable.
var read = func(dir, key string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, key))
	return bytes.TrimSpace(b), err
}

func tryOnce(client *http.Client, dir string) (attempt, []byte) {
	a := attempt{Time: time.Now().UTC()}
	tokenURL, err1 := read(dir, "token_url")
	clientID, err2 := read(dir, "client_id")
	var secret []byte
	var err3 error
	form := url.Values{"grant_type": {"client_credentials"}}
	if assertionFile != "" {
		// Read anew each time: the kubelet renews the projected token.
		secret, err3 = os.ReadFile(assertionFile)
		form.Set("client_id", string(clientID))
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", string(bytes.TrimSpace(secret)))
	} else {
		secret, err3 = read(dir, "client_secret")
	}
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			a.Error = err.Error()
			return a, secret
		}
	}
	req, err := http.NewRequest(http.MethodPost, string(tokenURL), strings.NewReader(form.Encode()))
	if err != nil {
		a.Error = err.Error()
		return a, secret
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if assertionFile == "" {
		req.SetBasicAuth(url.QueryEscape(string(clientID)), url.QueryEscape(string(secret)))
	}
	resp, err := client.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a, secret
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a.Status = resp.StatusCode
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	_ = json.Unmarshal(body, &tok)
	a.OK = resp.StatusCode == http.StatusOK && tok.AccessToken != ""
	a.TokenType, a.Error = tok.TokenType, tok.Error
	return a, secret
}
