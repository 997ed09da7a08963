package certs

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"sync"
)

// Parsing remembered by content.
//
// check parses the same few PEM inputs many times in one run: every rule
// that looks at a secret parses what it needs from it again (about 60
// calls of ParseCertificates and 24 of ParsePrivateKey per check of a
// healthy chain, of fewer than ten distinct inputs), and check --contexts
// does so in each context, whose CA and ALB certificate are often the same
// bytes. X.509 parsing and private key parsing (which checks the key and,
// for RSA, precomputes its CRT values) were an eighth of check --contexts'
// CPU. The answer to the same bytes is the same, errors included, so it is
// kept, keyed by the SHA-256 of the input: the bytes themselves, which may
// be a private key, are not kept as a key, only what parsing them gives
// (which holds the key anyway).

// memoLimit bounds what is kept: a run reads a handful of secrets, a fuzzer
// millions of inputs. When it is reached the memory starts afresh.
const memoLimit = 256

type memoKey struct {
	kind byte // 'c' certificates, 'k' private key
	sum  [sha256.Size]byte
}

type memoEntry struct {
	certs []*x509.Certificate
	key   crypto.Signer
	err   error
}

type parseMemo struct {
	mu sync.Mutex
	m  map[memoKey]*memoEntry
}

// parsed is the process's memory of parsed input.
var parsed parseMemo

func (pm *parseMemo) lookup(k memoKey, parse func() *memoEntry) *memoEntry {
	pm.mu.Lock()
	e, ok := pm.m[k]
	pm.mu.Unlock()
	if ok {
		return e
	}
	// Parsed outside the lock: two callers racing on one new input parse
	// it twice and agree on the answer.
	e = parse()
	pm.mu.Lock()
	if pm.m == nil || len(pm.m) >= memoLimit {
		pm.m = map[memoKey]*memoEntry{}
	}
	pm.m[k] = e
	pm.mu.Unlock()
	return e
}

func (pm *parseMemo) certificates(pemBytes []byte) ([]*x509.Certificate, error) {
	e := pm.lookup(memoKey{'c', sha256.Sum256(pemBytes)}, func() *memoEntry {
		cs, err := parseCertificates(pemBytes)
		return &memoEntry{certs: cs, err: err}
	})
	if e.err != nil {
		return nil, e.err
	}
	// A copy of each certificate: a caller that sets a field of its own
	// (as tests of expiry do) does not change another caller's.
	out := make([]*x509.Certificate, len(e.certs))
	for i, c := range e.certs {
		cp := *c
		out[i] = &cp
	}
	return out, nil
}

func (pm *parseMemo) privateKey(pemBytes []byte) (crypto.Signer, error) {
	e := pm.lookup(memoKey{'k', sha256.Sum256(pemBytes)}, func() *memoEntry {
		key, err := parsePrivateKey(pemBytes)
		return &memoEntry{key: key, err: err}
	})
	return e.key, e.err
}
