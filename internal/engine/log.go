package engine

import (
	"fmt"
	"log/slog"
)

// natsLogger sends the embedded server's log lines to slog, and its error
// lines to onError too.
type natsLogger struct {
	log     *slog.Logger
	onError func(line string)
}

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

func (l natsLogger) error(line string) {
	l.log.Error(line)
	if l.onError != nil {
		l.onError(line)
	}
}
