package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/albistio/kubectl-albistio/pkg/check"
)

// Identity says who a client config talks to and as whom: the API server's
// address and every setting that changes what it answers (credentials,
// impersonation, the CA that vouches for it). Two kubeconfig contexts with
// the same Identity (say, one per namespace of one cluster) get the same
// answer to every read, so their checks may share one Memo. ok is false
// when a setting cannot be compared (a custom dialer or proxy function):
// such a context shares nothing.
func Identity(cfg *rest.Config) (key string, ok bool) {
	if cfg == nil || cfg.Dial != nil || cfg.Proxy != nil || cfg.Transport != nil {
		return "", false
	}
	id := struct {
		Host, APIPath                   string
		Username, Password              string
		BearerToken, BearerTokenFile    string
		Impersonate                     rest.ImpersonationConfig
		AuthProvider                    any
		ExecProvider                    any
		Insecure                        bool
		ServerName                      string
		CertFile, KeyFile, CAFile       string
		CertData, KeyData, CAData       []byte
		NextProtos                      []string
		DisableCompression, Compression bool
	}{
		Host: cfg.Host, APIPath: cfg.APIPath, Username: cfg.Username, Password: cfg.Password,
		BearerToken: cfg.BearerToken, BearerTokenFile: cfg.BearerTokenFile, Impersonate: cfg.Impersonate,
		AuthProvider: cfg.AuthProvider, Insecure: cfg.Insecure, ServerName: cfg.ServerName,
		CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.CAFile,
		CertData: cfg.CertData, KeyData: cfg.KeyData, CAData: cfg.CAData, NextProtos: cfg.NextProtos,
		DisableCompression: cfg.DisableCompression,
	}
	if cfg.ExecProvider != nil {
		e := *cfg.ExecProvider
		e.StdinUnavailable, e.Config = false, nil // how it is run, not who it makes the client
		id.ExecProvider = e
	}
	data, err := json.Marshal(id)
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), true
}

// Memos hands out one Memo per Identity, so that contexts reaching one API
// server as one user read what they share once.
type Memos struct {
	mu sync.Mutex
	m  map[string]*Memo
}

// For is the Memo of identity key over api: the first api given for a key
// serves every later asker of it. An empty key shares nothing.
func (ms *Memos) For(key string, api check.API) *Memo {
	if key == "" {
		return NewMemo(api)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[string]*Memo{}
	}
	if m, ok := ms.m[key]; ok {
		return m
	}
	m := NewMemo(api)
	ms.m[key] = m
	return m
}
