package main

import "github.com/conclave-go/conclave/internal/buildinfo"

// version says which build this is (see buildinfo.Version).
func version() string { return buildinfo.Version() }

// buildVersion describes a given build, for tests.
var buildVersion = buildinfo.Describe
