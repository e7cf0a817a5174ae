// Package buildinfo says which build of a Conclave command is running, for
// their --version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version says which build this is: the module's version when it was
// installed as a module (go install …@v1.2.3), otherwise the commit it was
// built from (with "+dirty" when the tree had changes), and the Go release.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown version) " + runtime.Version()
	}
	return Describe(bi)
}

// Describe is Version for the given build information.
func Describe(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		var rev, when string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		switch {
		case rev == "":
			v = "devel (no commit recorded: built with go run or -buildvcs=false)"
		default:
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "+dirty"
			}
			v = "devel " + rev
			if when != "" {
				v += fmt.Sprintf(" (%s)", when)
			}
		}
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return v + " " + goVersion
}
