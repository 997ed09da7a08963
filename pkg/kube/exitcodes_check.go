package kube

// ExitFindings is the exit code of `check` when a finding reaches
// --failure-threshold (default: an error-level finding). It differs from
// every failure code so that scripts can tell "the chain has problems" from
// "check could not run".
const ExitFindings = 8
