package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// cliHandler writes a member's log for people: warnings and errors as
//
//	conclave: warning: no seed has answered (after 5s; seeds 127.0.0.1:7000; group conclave)
//	conclave: hint: is a member running at a seed address, …
//
// (an attribute named hint gets the line of its own), and records below
// warn, which only --log-level info or debug asks for, in slog's text
// format, for reading alongside the protocol's other decisions.
type cliHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	text  slog.Handler
	attrs []slog.Attr
}

func newCLIHandler(w io.Writer, level slog.Leveler) *cliHandler {
	return &cliHandler{mu: new(sync.Mutex), w: w, level: level, text: slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})}
}

func (h *cliHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *cliHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level < slog.LevelWarn {
		return h.text.Handle(ctx, r)
	}
	kind := "warning"
	if r.Level >= slog.LevelError {
		kind = "error"
	}
	var details []string
	var hint string
	add := func(a slog.Attr) bool {
		if a.Key == "hint" {
			hint = a.Value.String()
		} else if !a.Equal(slog.Attr{}) {
			details = append(details, a.Key+" "+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := "conclave: " + kind + ": " + r.Message
	if len(details) > 0 {
		line += " (" + strings.Join(details, "; ") + ")"
	}
	if _, err := fmt.Fprintln(h.w, line); err != nil {
		return err
	}
	if hint != "" {
		_, err := fmt.Fprintf(h.w, "conclave: hint: %s\n", hint)
		return err
	}
	return nil
}

func (h *cliHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	c.text = h.text.WithAttrs(attrs)
	return &c
}

func (h *cliHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}
