package main

import (
	"os"
	"runtime/pprof"
	"time"
)

func init() {
	if p := os.Getenv("PROF"); p != "" {
		f, _ := os.Create(p)
		_ = pprof.StartCPUProfile(f)
		go func() { time.Sleep(11 * time.Second); pprof.StopCPUProfile(); f.Close() }()
	}
}
