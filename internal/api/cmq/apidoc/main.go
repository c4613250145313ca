// Command apidoc writes docs/api.md, the API reference, from the references
// of internal/api/cmq (every Action, its parameters, limits, fields and
// errors, and the error table) and internal/api/mns (the routes and error
// codes). Its test fails when the committed file differs from what it
// writes.
//
//	go run ./internal/api/cmq/apidoc    (or: go generate ./...)
package main

//go:generate go run .

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// docPath is where the reference goes, from the module's root.
const docPath = "docs/api.md"

func main() {
	out := flag.String("o", "", "file to write (default: docs/api.md at the module's root)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if out == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		out = filepath.Join(root, docPath)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, render(), 0o644)
}

// moduleRoot is the nearest directory up from the working one that holds
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
