package datapath

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Teapot is httpbin's body for /status/418, the answer the walkthrough's curl shows.
const Teapot = `
    -=[ teapot ]=-

       _...._
     .'  _ _ ` + "`" + `.
    | ."` + "`" + ` ^ ` + "`" + `". _,
    \_;` + "`" + `"---"` + "`" + `|//
      |       ;/
      \_     _/
        ` + "`" + `"""` + "`" + `
`

// app is the mesh service behind the gateway: enough of httpbin for the tests.
// Envoy adds "server: istio-envoy", so responses say they came through the gateway.
func (g *GatewayServer) app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		g.record(r)
		w.Header().Set("Server", "istio-envoy")
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 100 || code > 599 {
			http.Error(w, "invalid status code", http.StatusBadRequest)
			return
		}
		if code == http.StatusTeapot {
			w.Header().Set("X-More-Info", "http://tools.ietf.org/html/rfc2324")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(Teapot))
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		g.record(r)
		w.Header().Set("Server", "istio-envoy")
		w.Header().Set("Content-Type", "application/json")
		h := map[string]string{"Host": r.Host}
		for k, v := range r.Header {
			h[k] = strings.Join(v, ",")
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"headers": h})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.record(r)
		w.Header().Set("Server", "istio-envoy")
		http.NotFound(w, r)
	})
	return mux
}

func parseCRL(p []byte) (*x509.RevocationList, error) {
	for {
		var b *pem.Block
		b, p = pem.Decode(p)
		if b == nil {
			return nil, errors.New("no X509 CRL PEM block")
		}
		if b.Type == "X509 CRL" {
			return x509.ParseRevocationList(b.Bytes)
		}
	}
}
