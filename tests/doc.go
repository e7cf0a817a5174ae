// Package tests holds Conclave's integration and system tests: groups of
// real members over UDP on loopback, real processes, and (with the security
// layers) a real KDC and real GnuPG keys. The packages' own unit tests live
// beside their code.
package tests
