package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the server die with the test binary, so that a server
// shared by a whole binary never outlives it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
