package benchutil

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play a worker: with BENCHUTIL_WORKER set it
// runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("BENCHUTIL_WORKER") {
	case "":
		os.Exit(m.Run())
	case "echo":
		// Answer each line with {"n": length of the line}, exit at EOF.
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Printf("{\"n\":%d}\n", len(sc.Bytes()))
		}
		fmt.Fprintln(os.Stderr, "bye")
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "warming up")
		fmt.Fprintln(os.Stderr, "conclave: error: no luck")
		os.Exit(3)
	}
}

func startTestWorker(t *testing.T, role string, stderr *bytes.Buffer) *Worker {
	t.Helper()
	t.Setenv("BENCHUTIL_WORKER", role)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w, err := StartWorker(ctx, "worker 7", stderr, os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Kill(); w.Wait(context.Background()) })
	return w
}

func TestWorkerRoundTrip(t *testing.T) {
	var stderr bytes.Buffer
	w := startTestWorker(t, "echo", &stderr)
	ctx := context.Background()
	if err := w.Send(map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	var got struct{ N int }
	if err := w.Recv(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.N != len(`{"a":"b"}`) {
		t.Errorf("n = %d", got.N)
	}
	w.CloseInput()
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "worker 7: bye\n" {
		t.Errorf("stderr %q, want the worker's line prefixed", stderr.String())
	}
	if err := w.Recv(ctx, &got); err == nil {
		t.Error("Recv after exit: no error")
	}
}

func TestWorkerFailure(t *testing.T) {
	var stderr bytes.Buffer
	w := startTestWorker(t, "fail", &stderr)
	var v struct{}
	err := w.Recv(context.Background(), &v)
	if err == nil {
		t.Fatal("no error from a worker that failed")
	}
	for _, want := range []string{"worker 7", "exit status 3", "no luck"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(stderr.String(), "worker 7: warming up\n") {
		t.Errorf("stderr not forwarded: %q", stderr.String())
	}
}
