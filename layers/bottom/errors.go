package bottom

import "errors"

var errVersion = errors.New("bottom: unknown wire version")
