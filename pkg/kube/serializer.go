package kube

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// runtimeNoopSerializer lets a REST client exist without a scheme: the
// discovery requests it makes are read raw (DoRaw) and decoded by hand, which
// keeps the all-types client scheme out of the binary's start-up.
type runtimeNoopSerializer struct{}

func (runtimeNoopSerializer) SupportedMediaTypes() []runtime.SerializerInfo { return nil }
func (runtimeNoopSerializer) EncoderForVersion(e runtime.Encoder, _ runtime.GroupVersioner) runtime.Encoder {
	return e
}
func (runtimeNoopSerializer) DecoderToVersion(d runtime.Decoder, _ runtime.GroupVersioner) runtime.Decoder {
	return d
}

// statusCodecs decode, in JSON and in protobuf, the one object a raw read
// decodes itself: the Status of a failed request, from which client-go
// makes its typed errors (NotFound with the object's name, Forbidden). The
// objects read are handed over undecoded.
func statusCodecs() runtime.NegotiatedSerializer {
	statusOnce.Do(func() {
		scheme := runtime.NewScheme()
		metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
		statusSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	})
	return statusSerializer
}

var (
	statusOnce       sync.Once
	statusSerializer runtime.NegotiatedSerializer
)
