package flavor

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/internal/safetext"
)

// Stored are the objects an ALB's controller reads its upstream TLS
// settings from, as check read them; nil when not found (or, for the
// objects a flavor does not use, not read).
type Stored struct {
	Ingress *networkingv1.Ingress
	// Service is the Service the Ingress routes to when it is the
	// plugin's own (Traefik's), nil otherwise.
	Service   *corev1.Service
	Transport *ServersTransport
}

// ServersTransport is the part of Traefik's traefik.io/v1alpha1
// ServersTransport that the plugin reads (Traefik's Go types are not a
// dependency of the plugin).
type ServersTransport struct {
	Namespace string
	Name      string
	Spec      ServersTransportSpec
	// ManagedFields say who owns which of its fields.
	ManagedFields []metav1.ManagedFieldsEntry
}

// ServersTransportSpec holds the TLS settings of a ServersTransport.
type ServersTransportSpec struct {
	ServerName          string   `json:"serverName,omitempty"`
	InsecureSkipVerify  bool     `json:"insecureSkipVerify,omitempty"`
	RootCAs             []RootCA `json:"rootCAs,omitempty"`
	RootCAsSecrets      []string `json:"rootCAsSecrets,omitempty"` // deprecated spelling, still read by Traefik v3
	CertificatesSecrets []string `json:"certificatesSecrets,omitempty"`
}

// RootCA names a Secret or a ConfigMap holding CA certificates.
type RootCA struct {
	Secret    string `json:"secret,omitempty"`
	ConfigMap string `json:"configMap,omitempty"`
}

// ObjectRef names an object.
type ObjectRef struct{ Kind, Namespace, Name string }

// Where is the object and field a setting is read from, and how a fix line
// names the setting.
type Where struct {
	Object  ObjectRef
	Field   string
	Setting string
}

// UpstreamTLS is how an ALB connects to the gateway, read from its stored
// objects as its controller reads them and normalised across flavors, so
// that check's generic rules judge the value and not each flavor's
// spelling. The spelling traps themselves ("true" for "on", pasted
// key=value) stay with the per-flavor rules.
type UpstreamTLS struct {
	// ServerName is the name the ALB sends as SNI (when SNI is on) and
	// verifies the gateway's certificate for.
	ServerName ServerName
	// SNI says whether the ALB sends ServerName as SNI at all.
	SNI Switch
	// Verify says whether the ALB verifies the gateway's certificate.
	Verify Switch
	// Depth is how many CA certificates may follow the gateway's leaf.
	Depth Depth
	// ClientCerts are the secrets the ALB presents its client certificate
	// from; TrustedCAs those it verifies the gateway with.
	ClientCerts, TrustedCAs []ObjectRef
}

// ServerName is the ALB's name for the gateway.
type ServerName struct {
	Where
	// Known is false when there is nothing to judge: the object is
	// missing, or the value is unreadable (a pasted key=value).
	Known bool
	Value string
	// Missing says, in the controller's terms, what an unset name does.
	Missing string
	// Fallback says the controller took Value from another setting
	// because the name's own is unset (Traefik's ingress-nginx provider).
	Fallback bool
}

// Switch is an on/off setting.
type Switch struct {
	// Known is false when the object the setting lives on was not found.
	Known, On bool
	// Said describes an unknown or off setting as the ALB has it
	// ("off (insecureSkipVerify)", "unknown (no Ingress)").
	Said string
}

// Depth is the ALB's verify depth.
type Depth struct {
	Where
	// Known is false when no depth applies: the controller has none
	// (Unlimited), verification is off or unreadable, or the object is
	// missing.
	Known, Unlimited bool
	Value            int
	// Said is how the ALB comes to Value, for messages.
	Said string
}

// quote shows a value from the cluster in a message.
func quote(v string) string { return safetext.Quote(v, safetext.DefaultMax) }

// ingressWhere is an annotation of the Ingress.
func ingressWhere(ing *networkingv1.Ingress, key, setting string) Where {
	return Where{Object: ObjectRef{"Ingress", ing.Namespace, ing.Name}, Field: AnnotationField(key), Setting: setting}
}
