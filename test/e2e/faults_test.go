package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

// faultProxy is a TCP proxy on loopback in front of the API server that
// breaks connections the way a flaky network or a load balancer in front of
// the control plane does: it refuses some (accepts, then closes before a
// byte is read, so the client's TLS handshake sees EOF) and cuts others after
// a random 512 B to 48 KiB of the server's bytes: now and then in the TLS
// handshake, mostly mid-response. It works below TLS, so
// the plugin talks to the real API server, certificate and HTTP/2 included.
// Its decisions come from one seeded RNG in accept order, so a seed replays
// the same faults as long as the plugin opens its connections in the same
// order (it makes its requests one at a time).
type faultProxy struct {
	ln     net.Listener
	target string
	// refuse and cut are probabilities; cutMin..cutMax bounds how many bytes
	// of the server's stream pass before a cut.
	refuse, cut    float64
	cutMin, cutMax int
	faults         atomic.Bool

	mu  sync.Mutex
	rng *rand.Rand

	conns, refused, cuts atomic.Int64
	wg                   sync.WaitGroup
}

func newFaultProxy(t *testing.T, seed uint64) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		ln: ln, target: strings.TrimPrefix(env.cluster.Server, "https://"),
		refuse: 0.2, cut: 0.3, cutMin: 512, cutMax: 48 << 10,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	p.faults.Store(true)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// decide draws this connection's fate: refused, or cut after n bytes (n < 0:
// not cut).
func (p *faultProxy) decide() (refused bool, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.faults.Load() {
		return false, -1
	}
	if p.rng.Float64() < p.refuse {
		return true, -1
	}
	if p.rng.Float64() < p.cut {
		return false, p.cutMin + p.rng.IntN(p.cutMax-p.cutMin)
	}
	return false, -1
}

func (p *faultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		refused, n := p.decide()
		if refused {
			p.refused.Add(1)
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c, n)
		}()
	}
}

// pipe forwards one connection; every connection ends within a minute
// whatever the peers do, so a stuck one cannot outlive the test.
func (p *faultProxy) pipe(c net.Conn, cutAfter int) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	deadline := time.Now().Add(time.Minute)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	if cutAfter < 0 {
		io.Copy(c, s)
		return
	}
	if n, _ := io.CopyN(c, s, int64(cutAfter)); n == int64(cutAfter) {
		p.cuts.Add(1)
	}
	// Returning closes both sides: the client sees its response end early.
}

// kubeconfig points the admin user at the proxy, verifying the API server's
// own certificate (its SANs include 127.0.0.1).
func (p *faultProxy) kubeconfig(t *testing.T) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster.ContextName] = &clientcmdapi.Cluster{Server: "https://" + p.ln.Addr().String(), CertificateAuthority: env.cluster.CAFile}
	cfg.AuthInfos[cluster.ContextName] = &clientcmdapi.AuthInfo{Token: env.cluster.Token(cluster.Admin)}
	cfg.Contexts[cluster.ContextName] = &clientcmdapi.Context{Cluster: cluster.ContextName, AuthInfo: cluster.ContextName}
	cfg.CurrentContext = cluster.ContextName
	path := filepath.Join(t.TempDir(), "faults.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	return path
}

// klogLine matches a klog header (E1201 12:00:00.000000 ...): client-go's
// own log lines, which must stay off stderr at the default verbosity.
var klogLine = regexp.MustCompile(`(?m)^[EWF]\d{4} \d\d:\d\d:\d\d`)

// Through a network that refuses 20% of connections and cuts 30% of the
// rest mid-response, every setup either succeeds with a clean closing check
// or fails with the exit code the README promises for it — 6 (unreachable,
// nothing written) or 7 (failed after writing, with the list) — in one
// error line and no client-go log lines; and re-running without faults
// converges.
func TestSetupTransientFaults(t *testing.T) {
	// A fixed seed makes the suite's runs the same faults every time (this
	// one, on today's request sequence, loses a create's response after four
	// writes: exit 7); ALBISTIO_FAULT_SEED tries others.
	seed := uint64(5)
	if s := os.Getenv("ALBISTIO_FAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("ALBISTIO_FAULT_SEED: %v", err)
		}
	}
	t.Logf("fault seed %d (ALBISTIO_FAULT_SEED=%d replays it)", seed, seed)
	p := newFaultProxy(t, seed)
	kubeconfig := p.kubeconfig(t)

	const runs = 12
	deadline := time.Now().Add(15 * time.Minute)
	codes := map[int]int{}
	var faulted [3]int64 // connections, refused, cut during the faulted runs
	var bad []string
	for i := range runs {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %d runs: the test's deadline passed", i)
		}
		w := newWorld(t, false)
		p.faults.Store(true)
		before := [3]int64{p.conns.Load(), p.refused.Load(), p.cuts.Load()}
		r := albistioAs(t, kubeconfig, nil, append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--request-timeout", "20s")...)...)
		p.faults.Store(false)
		codes[r.code]++
		conns, refused, cuts := p.conns.Load()-before[0], p.refused.Load()-before[1], p.cuts.Load()-before[2]
		faulted[0], faulted[1], faulted[2] = faulted[0]+conns, faulted[1]+refused, faulted[2]+cuts
		t.Logf("run %d: exit %d (connections %d, refused %d, cut %d)", i+1, r.code, conns, refused, cuts)
		if at := strings.Index(r.stderr, "error:"); at >= 0 {
			t.Logf("run %d: %s", i+1, strings.TrimSpace(r.stderr[at:]))
		}
		if problem := faultRunProblem(r); problem != "" {
			bad = append(bad, fmt.Sprintf("run %d: %s", i+1, problem))
			t.Errorf("run %d: %s:\n%s", i+1, problem, r)
		}

		// Without faults the same command converges, and then has nothing
		// left to write.
		again := mustSucceed(t, albistioAs(t, kubeconfig, nil, append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--request-timeout", "20s")...)...))
		if !strings.Contains(again.stderr, "0 errors") {
			t.Errorf("run %d: the re-run's closing check is not clean:\n%s", i+1, again)
		}
		again = mustSucceed(t, albistioAs(t, kubeconfig, nil, append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--request-timeout", "20s")...)...))
		if !strings.Contains(again.stderr, "up to date") || strings.TrimSpace(again.stdout) != "" {
			t.Errorf("run %d: a second re-run must write nothing and say so:\n%s", i+1, again)
		}
	}
	t.Logf("exit codes over %d faulted runs: %v; their connections %d, refused %d, cut mid-stream %d",
		runs, codes, faulted[0], faulted[1], faulted[2])
	if len(bad) > 0 {
		t.Errorf("%d of %d runs broke the exit-code contract:\n  %s", len(bad), runs, strings.Join(bad, "\n  "))
	}
	if faulted[1] == 0 || faulted[2] == 0 {
		t.Errorf("seed %d injected no faults of some kind (refused %d, cut %d): the test proved nothing; try another", seed, faulted[1], faulted[2])
	}
}

// faultRunProblem says how a setup run under faults broke the contract, or
// "" when it kept it.
func faultRunProblem(r result) string {
	var problems []string
	if klogLine.MatchString(r.stderr) {
		problems = append(problems, "client-go's log lines reached stderr")
	}
	var errLines int
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "error:") {
			errLines++
		}
	}
	switch r.code {
	case 0:
		if errLines != 0 || !strings.Contains(r.stderr, "check:") || !strings.Contains(r.stderr, "0 errors") {
			problems = append(problems, "exit 0 without a clean closing check")
		}
	case 6, 7:
		if errLines != 1 {
			problems = append(problems, fmt.Sprintf("exit %d with %d error lines, want exactly one", r.code, errLines))
		}
		if r.code == 7 && !strings.Contains(r.stderr, "written before the failure") {
			problems = append(problems, "exit 7 without the list of what was written")
		}
		if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
			problems = append(problems, "a stack trace")
		}
	default:
		problems = append(problems, fmt.Sprintf("exit %d where the README promises 6 (unreachable) or 7 (failed after writing)", r.code))
	}
	return strings.Join(problems, "; ")
}

// dropAfter returns a hook for newAPIProxy that lets requests through until
// one matches trigger, and from the next request on drops every connection
// without an answer: the API server lost right after that request.
func dropAfter(trigger func(*http.Request) bool) func(http.ResponseWriter, *http.Request) bool {
	var armed atomic.Bool
	return func(rw http.ResponseWriter, r *http.Request) bool {
		if armed.Load() {
			if conn, _, err := rw.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		}
		if trigger(r) {
			armed.Store(true)
		}
		return false
	}
}

func isIngressApply(dryRun bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/ingresses/") && strings.Contains(r.URL.RawQuery, "dryRun") == dryRun
	}
}

// The API server goes away after every write, before setup has finished:
// the next requests are the look for what the chain had in the other
// gateway API and then the closing check. The run failed after writing, so
// it exits 7 and lists what it wrote (it used to exit 6, "unreachable", as
// if nothing had been written). When the run wrote nothing (everything up
// to date), the same loss is exit 6.
func TestSetupClosingCheckLosesServer(t *testing.T) {
	w := newWorld(t, false)
	args := append([]string{"setup"}, w.flags("--alb-flavor", "nginx", "--request-timeout", "3s")...)

	r := albistioAs(t, newAPIProxy(t, dropAfter(isIngressApply(false))), nil, args...)
	if r.code != 7 || !strings.Contains(r.stderr, "closing check") && !strings.Contains(r.stderr, "other gateway mode") || !strings.Contains(r.stderr, "written before the failure") {
		t.Fatalf("losing the API server in the closing check after writing should exit 7 with the list:\n%s", r)
	}
	t.Logf("after writing: %s", r.stderr[strings.Index(r.stderr, "error:"):])
	if n := strings.Count(r.stderr[strings.Index(r.stderr, "written before the failure"):], "(created)"); n != 7 {
		t.Errorf("the error should list the 7 objects written, lists %d:\n%s", n, r)
	}
	if problem := faultRunProblem(r); problem != "" {
		t.Errorf("%s:\n%s", problem, r)
	}
	mustSucceed(t, w.setup(t))

	// Up to date: the dry runs pass, nothing is written, then the check
	// cannot reach the server.
	r = albistioAs(t, newAPIProxy(t, dropAfter(isIngressApply(true))), nil, args...)
	if r.code != 6 || !strings.Contains(r.stderr, "up to date") || strings.Contains(r.stderr, "written before the failure") {
		t.Fatalf("with nothing written, losing the API server in the closing check is exit 6:\n%s", r)
	}
	t.Logf("nothing written: %s", r.stderr[strings.Index(r.stderr, "error:"):])
	if problem := faultRunProblem(r); problem != "" {
		t.Errorf("%s:\n%s", problem, r)
	}
}

// A --request-timeout that is not a duration is a bad flag (exit 2, naming
// it), not a kubeconfig that cannot be loaded.
func TestBadRequestTimeout(t *testing.T) {
	w := newWorld(t, false)
	for _, v := range []string{"abc", "-5s"} {
		r := w.setup(t, "--request-timeout", v)
		mustFail(t, r, 2, "--request-timeout", v)
		if strings.Contains(r.stderr, "kubeconfig") {
			t.Errorf("a bad --request-timeout is not a kubeconfig problem:\n%s", r)
		}
	}
}
