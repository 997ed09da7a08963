package kube

import (
	"k8s.io/apimachinery/pkg/runtime"
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
