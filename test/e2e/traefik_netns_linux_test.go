package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// podNet is a network namespace the test creates for itself, joined to the
// host's by a veth pair with a private /30 that exists only on that pair.
// It plays the pod network: EndpointSlices reject loopback addresses, so the
// gateway stand-in gets an address here that Traefik (on the host side) can
// reach. Nothing leaves the machine: the only route to the /30 is the veth.
type podNet struct {
	name            string // the netns, under /run/netns
	hostIf          string // host end of the veth pair
	hostIP, gwIP    string // host end, namespace end
	ln              net.Listener
	target          atomic.Value // string host:port the relay forwards to
	mu              sync.Mutex
	conns           []net.Conn
	closed          atomic.Bool
	relayWG         sync.WaitGroup
	relayErrs       []string
	relayErrsMu     sync.Mutex
	cleanupCommands [][]string
}

// podNetOrSkip checks what a netns needs: root and iproute2.
func podNetOrSkip(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFailTraefik(t, "creating a network namespace for the gateway stand-in needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFailTraefik(t, "creating a network namespace for the gateway stand-in needs `ip` (apt-get install iproute2)")
	}
}

// newPodNet creates the namespace and veth pair, and a TCP relay listening on
// the namespace's address and port (0: any) that forwards every connection,
// byte for byte, to target: the gateway stand-in on loopback (StartGateway
// listens only there); TLS, SNI and the client certificate pass through
// untouched. Everything is removed at cleanup.
func newPodNet(t *testing.T, target string, port int) *podNet {
	t.Helper()
	n := seq.Add(1)
	pid := os.Getpid()
	pn := &podNet{
		name:   fmt.Sprintf("albistio-tf-%d-%d", pid, n),
		hostIf: fmt.Sprintf("atf%dx%dh", pid%1000000, n%100), // ≤ 15 bytes
	}
	nsIf := strings.TrimSuffix(pn.hostIf, "h") + "n"
	pn.target.Store(target)
	t.Cleanup(pn.close)

	subnet, err := freeSubnet(pid*16 + int(n))
	if err != nil {
		t.Fatal(err)
	}
	pn.hostIP, pn.gwIP = subnet[0], subnet[1]
	steps := [][]string{
		{"netns", "add", pn.name},
		{"link", "add", pn.hostIf, "type", "veth", "peer", "name", nsIf, "netns", pn.name},
		{"addr", "add", pn.hostIP + "/30", "dev", pn.hostIf},
		{"link", "set", pn.hostIf, "up"},
		{"-n", pn.name, "addr", "add", pn.gwIP + "/30", "dev", nsIf},
		{"-n", pn.name, "link", "set", nsIf, "up"},
		{"-n", pn.name, "link", "set", "lo", "up"},
	}
	for i, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		switch i {
		case 0:
			pn.cleanupCommands = append(pn.cleanupCommands, []string{"netns", "del", pn.name})
		case 1:
			// Deleting the namespace deletes its end, and with it the pair;
			// deleting the host end too covers a half-finished set-up.
			pn.cleanupCommands = append([][]string{{"link", "del", pn.hostIf}}, pn.cleanupCommands...)
		}
	}
	ln, err := listenInNetns(pn.name, net.JoinHostPort(pn.gwIP, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listening in network namespace %s: %v", pn.name, err)
	}
	pn.ln = ln
	pn.relayWG.Add(1)
	go pn.serve()
	return pn
}

// Addr is the relay's address inside the namespace: what the EndpointSlice lists.
func (pn *podNet) Addr() *net.TCPAddr { return pn.ln.Addr().(*net.TCPAddr) }

// Retarget makes new connections go to another gateway stand-in.
func (pn *podNet) Retarget(target string) { pn.target.Store(target) }

// RelayErrors are the relay's own failures (dialing the gateway), for diagnostics.
func (pn *podNet) RelayErrors() []string {
	pn.relayErrsMu.Lock()
	defer pn.relayErrsMu.Unlock()
	return append([]string(nil), pn.relayErrs...)
}

func (pn *podNet) serve() {
	defer pn.relayWG.Done()
	for {
		c, err := pn.ln.Accept()
		if err != nil {
			return
		}
		pn.relayWG.Add(1)
		go pn.relay(c)
	}
}

// relay copies both ways between c (in the namespace) and the gateway stand-in
// (dialed from an ordinary goroutine, so in the host's namespace, on loopback).
func (pn *podNet) relay(c net.Conn) {
	defer pn.relayWG.Done()
	target := pn.target.Load().(string)
	up, err := net.Dial("tcp", target)
	if err != nil {
		pn.relayErrsMu.Lock()
		pn.relayErrs = append(pn.relayErrs, err.Error())
		pn.relayErrsMu.Unlock()
		c.Close()
		return
	}
	pn.mu.Lock()
	if pn.closed.Load() {
		pn.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	pn.conns = append(pn.conns, c, up)
	pn.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	c.Close()
	up.Close()
}

func (pn *podNet) close() {
	pn.closed.Store(true)
	if pn.ln != nil {
		pn.ln.Close()
	}
	pn.mu.Lock()
	for _, c := range pn.conns {
		c.Close()
	}
	pn.mu.Unlock()
	pn.relayWG.Wait()
	for _, args := range pn.cleanupCommands {
		_ = exec.Command("ip", args...).Run()
	}
}

// listenInNetns opens a TCP listener inside the named network namespace: a
// socket belongs to the namespace of the thread that created it, so one
// locked OS thread enters the namespace, listens and returns. If it cannot
// return, the goroutine ends still locked and Go discards that thread.
func listenInNetns(name, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer home.Close()
		ns, err := os.Open("/run/netns/" + name)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", name, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: this thread is in the wrong namespace and dies with us.
			if ln != nil {
				ln.Close()
			}
			ch <- result{err: fmt.Errorf("setns back to the host namespace: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ln: ln, err: lerr}
	}()
	r := <-ch
	return r.ln, r.err
}

// freeSubnet picks a /30 in 10.234.0.0/16 that no interface of the host uses,
// starting from a per-process index so concurrent test runs do not collide,
// and returns its two usable addresses.
func freeSubnet(start int) ([2]string, error) {
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		return [2]string{}, err
	}
	_, private, _ := net.ParseCIDR("10.234.0.0/16")
	const subnets = 1 << 14 // /30s in a /16
	for i := 0; i < subnets; i++ {
		k := (start + i) % subnets
		base := net.IPv4(10, 234, byte(k>>6), byte(k&63)<<2).To4()
		taken := false
		for _, a := range ifaces {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && private.Contains(ipn.IP) && ipn.IP.Mask(net.CIDRMask(30, 32)).Equal(base) {
				taken = true
				break
			}
		}
		if taken {
			continue
		}
		host := net.IPv4(base[0], base[1], base[2], base[3]+1).String()
		gw := net.IPv4(base[0], base[1], base[2], base[3]+2).String()
		return [2]string{host, gw}, nil
	}
	return [2]string{}, errors.New("no free /30 in 10.234.0.0/16")
}

// traefikSysProcAttr keeps Traefik out of the terminal's process group and
// has the kernel kill it if the test process dies.
func traefikSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
