package benchutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// Worker is a child process driven by JSON lines: Send writes one value as
// a line on its standard input, Recv decodes the next line of its standard
// output. Its standard error is copied line by line to a writer, each line
// prefixed with the worker's name, and the last line is kept for errors.
//
// A worker whose standard input reaches end of file is expected to exit:
// that is how CloseInput ends it, and how it learns that its parent died.
// Send and Recv may be called from different goroutines; each is not
// called concurrently with itself.
type Worker struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte   // standard output, closed at its end
	done  chan struct{} // closed when the process has exited and err is set
	err   error         // how the process exited

	mu      sync.Mutex
	lastErr string // last line of standard error
}

// maxLine bounds one line of a worker's output.
const maxLine = 16 << 20

// StartWorker starts path with args as a worker named name. The process is
// killed when ctx ends. stderr receives the worker's standard error; writes
// to it are whole lines, but the caller must serialise them with whatever
// else writes there.
func StartWorker(ctx context.Context, name string, stderr io.Writer, path string, args ...string) (*Worker, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w := &Worker{
		name:  name,
		cmd:   cmd,
		stdin: stdin,
		lines: make(chan []byte, 16),
		done:  make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		defer close(w.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			w.lines <- append([]byte(nil), sc.Bytes()...)
		}
		io.Copy(io.Discard, stdout) // a line too long: keep the pipe flowing
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			w.lastErr = line
			w.mu.Unlock()
			fmt.Fprintf(stderr, "%s: %s\n", name, line)
		}
		io.Copy(io.Discard, errPipe)
	}()
	go func() {
		readers.Wait()
		w.err = cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

// Name is the worker's name.
func (w *Worker) Name() string { return w.name }

// Send writes v to the worker's standard input as one JSON line.
func (w *Worker) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", w.name, w.exitErr(err))
	}
	return nil
}

// Recv decodes the worker's next line of output into v. It fails if ctx
// ends first, if the worker exits without writing a line, or if the line is
// not the JSON of v.
func (w *Worker) Recv(ctx context.Context, v any) error {
	select {
	case line, ok := <-w.lines:
		if !ok {
			select {
			case <-w.done:
			case <-ctx.Done():
			}
			return fmt.Errorf("%s: %w", w.name, w.exitErr(io.ErrUnexpectedEOF))
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("%s: unreadable report %.80q: %v", w.name, line, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", w.name, context.Cause(ctx))
	}
}

// exitErr explains why the worker stopped talking: how it exited and the
// last thing it said on standard error, or err if it is still running.
func (w *Worker) exitErr(err error) error {
	select {
	case <-w.done:
	default:
		return err
	}
	w.mu.Lock()
	last := w.lastErr
	w.mu.Unlock()
	why := "exited"
	if w.err != nil {
		why = w.err.Error()
	}
	if last != "" {
		return fmt.Errorf("%s: %s", why, last)
	}
	return errors.New(why)
}

// CloseInput closes the worker's standard input, which tells it to finish.
func (w *Worker) CloseInput() error { return w.stdin.Close() }

// Wait waits for the worker to exit and returns how it exited. When ctx
// ends first it kills the worker and waits for that.
func (w *Worker) Wait(ctx context.Context) error {
	select {
	case <-w.done:
	case <-ctx.Done():
		w.Kill()
		<-w.done
	}
	if w.err != nil {
		return fmt.Errorf("%s: %w", w.name, w.exitErr(w.err))
	}
	return nil
}

// Kill kills the worker if it is still running. It does not wait.
func (w *Worker) Kill() {
	select {
	case <-w.done:
	default:
		w.cmd.Process.Kill()
	}
}
