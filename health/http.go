package health

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// maxBody is how much of an HTTP answer the body regexp sees.
const maxBody = 64 << 10

// HTTPProber checks HTTP and HTTPS: a GET of Spec.Path with Spec.Host as
// the Host header passes when the status is one of Spec.Expect and, when
// Spec.Body is set, the first 64 KiB of the body match it.
//
// Redirects are not followed (a 301 is a status like any other) and the
// environment's proxy settings are ignored: the check is about this real
// server, nothing in between. Keep-alives are off so a check never holds a
// connection to a real server between checks.
type HTTPProber struct {
	mu sync.Mutex
	// transports by TLS settings: a Transport per check would work too,
	// but each one is allocated with its own caches; the TLS settings of a
	// fleet come in a handful of combinations.
	transports map[tlsKey]*http.Transport
}

type tlsKey struct {
	serverName string
	verify     bool
}

// NewHTTPProber returns an HTTPProber.
func NewHTTPProber() *HTTPProber {
	return &HTTPProber{transports: map[tlsKey]*http.Transport{}}
}

func (p *HTTPProber) transport(s *Spec) *http.Transport {
	k := tlsKey{}
	if s.Type == HTTPS {
		k = tlsKey{s.ServerName, s.Verify}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.transports[k]; ok {
		return t
	}
	t := &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{KeepAlive: -1}).DialContext, // one request per connection
		DisableKeepAlives: true,
		// Compression would hide the body from the regexp's 64 KiB
		// window differently on each server; ask for it as it is.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		TLSClientConfig: &tls.Config{
			ServerName:         k.serverName,
			InsecureSkipVerify: !k.verify, // the spec's choice: verify defaults to false, as keepalived's SSL_GET
		},
		MaxResponseHeaderBytes: 64 << 10,
	}
	p.transports[k] = t
	return t
}

// Probe runs one GET.
func (p *HTTPProber) Probe(ctx context.Context, s *Spec) Result {
	scheme := "http://"
	if s.Type == HTTPS {
		scheme = "https://"
	}
	// A zone (fe80::1%eth0) is "%25" in a URL.
	host := strings.Replace(s.Addr.String(), "%", "%25", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+host+s.Path, nil)
	if err != nil {
		return Result{Detail: clip(err.Error())}
	}
	if s.Host != "" {
		req.Host = s.Host
	}
	req.Header.Set("User-Agent", "lvsgen-health")
	c := http.Client{
		Transport: p.transport(s),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := c.Do(req)
	if err != nil {
		return fail(ctx, s, err)
	}
	defer resp.Body.Close()
	code := strconv.Itoa(resp.StatusCode)
	expect := s.Expect
	if len(expect) == 0 {
		expect = []int{http.StatusOK}
	}
	if !slices.Contains(expect, resp.StatusCode) {
		return Result{Detail: code}
	}
	if s.Body == "" {
		return Result{OK: true, Detail: code}
	}
	re := s.body
	if re == nil { // a Spec that did not go through Validate
		if re, err = regexp.Compile(s.Body); err != nil {
			return Result{Detail: clip("body: " + err.Error())}
		}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Result{Detail: code + ", reading body: " + describe(ctx, s, err)}
	}
	if !re.Match(b) {
		return Result{Detail: code + ", body does not match"}
	}
	return Result{OK: true, Detail: code}
}
