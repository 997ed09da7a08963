// Package certs reads, checks, compares and issues the X.509 material that
// chains an IKS Ingress ALB to an Istio ingress gateway over mutual TLS.
//
// The walkthrough this plugin automates copied certificates by hand and
// trusted a root that has since expired; this package exists so that every
// command judges certificates the same way Envoy and nginx will at handshake
// time: the chain is verified for a purpose (a client certificate must carry
// the clientAuth extended key usage, which Let's Encrypt certificates no
// longer do since 2026-02-11), trust anchors come only from the chain, the
// bundled ISRG roots or a file the user names (never from the network), and a
// private CA can issue the ALB a client identity that works.
//
// Private keys are only ever held in memory: nothing here writes key bytes to
// disk or prints them; callers put them into Kubernetes Secrets.
package certs
