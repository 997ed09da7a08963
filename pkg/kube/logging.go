package kube

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// MaxRequestLogLevel is the highest verbosity at which client-go may log a
// request. From -v=8 it logs request and response bodies, and the bodies of
// Secret requests carry private keys, which must never reach a log.
const MaxRequestLogLevel = 7

// MinErrorLogLevel is the lowest verbosity at which client-go's own
// error-level log lines reach stderr.
const MinErrorLogLevel = 1

// WithRedactedRequestLogs returns a context whose logger drops client-go's
// body logs (-v=8 and above) while keeping URLs, status and headers (-v=6,7;
// client-go masks the Authorization header itself), and drops client-go's
// error lines below -v=MinErrorLogLevel. client-go picks the logger
// for each request from its context, so every request made with this context
// is covered, whatever -v says.
func WithRedactedRequestLogs(ctx context.Context) context.Context {
	l := klog.FromContext(ctx)
	return klog.NewContext(ctx, logr.New(&cappedSink{sink: l.GetSink(), max: MaxRequestLogLevel}))
}

// cappedSink passes log lines up to max verbosity to sink and drops the rest.
type cappedSink struct {
	sink logr.LogSink
	max  int
}

// Init does not pass Init on: the wrapped sink was initialised by its own
// logger and may be shared (klog's global one is), so it is copied with one
// more frame of call depth instead, for the frame this wrapper adds.
func (c *cappedSink) Init(logr.RuntimeInfo) {
	if s, ok := c.sink.(logr.CallDepthLogSink); ok {
		c.sink = s.WithCallDepth(1)
	}
}

func (c *cappedSink) Enabled(level int) bool { return level <= c.max && c.sink.Enabled(level) }

func (c *cappedSink) Info(level int, msg string, kv ...any) {
	if level <= c.max {
		c.sink.Info(level, msg, kv...)
	}
}

// Error passes client-go's error lines on only from -v=MinErrorLogLevel: at
// the default verbosity the plugin reports every failure itself, in one
// "error:" line that says what to do, and client-go's line beside it
// ("E1201 ... request.go ...] Unexpected error when reading response body")
// would be a second, rawer report of the same failure.
func (c *cappedSink) Error(err error, msg string, kv ...any) {
	if c.sink.Enabled(MinErrorLogLevel) {
		c.sink.Error(err, msg, kv...)
	}
}

func (c *cappedSink) WithValues(kv ...any) logr.LogSink {
	return &cappedSink{sink: c.sink.WithValues(kv...), max: c.max}
}

func (c *cappedSink) WithName(name string) logr.LogSink {
	return &cappedSink{sink: c.sink.WithName(name), max: c.max}
}

func (c *cappedSink) WithCallDepth(depth int) logr.LogSink {
	if s, ok := c.sink.(logr.CallDepthLogSink); ok {
		return &cappedSink{sink: s.WithCallDepth(depth), max: c.max}
	}
	return c
}
