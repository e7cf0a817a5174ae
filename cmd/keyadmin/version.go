package main

import "github.com/conclave-go/conclave/internal/buildinfo"

// version says which build this is (see buildinfo.Version).
func version() string { return buildinfo.Version() }
