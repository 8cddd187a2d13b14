package listen

import "os"

// A readiness pipe is how a gowsgi process started by another one (a
// binary upgrade's new process, a --daemon launcher's detached server)
// says it serves: the starter keeps the read end, the started process
// inherits the write end at a descriptor its environment names, and writes
// one byte once it serves. End of file without the byte means the started
// process exited first. Both protocols use these two functions.

// readyByte is what a started process writes once it serves. The reader
// takes any one byte: gowsgi versions before this one wrote '1' (upgrade)
// or 'R' (daemon).
const readyByte = 'R'

// tellReady writes the readiness byte on w and closes it.
func tellReady(w *os.File) error {
	_, err := w.Write([]byte{readyByte})
	w.Close()
	return err
}

// waitReady reads r until the started process writes its byte (true) or
// closes the pipe by exiting (false), and closes r.
func waitReady(r *os.File) bool {
	var b [1]byte
	n, _ := r.Read(b[:])
	r.Close()
	return n == 1
}
