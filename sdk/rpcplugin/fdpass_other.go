//go:build !linux

package rpcplugin

import (
	"errors"
	"os"
)

// Descriptor passing is Linux only; elsewhere every Get streams chunks.

var errNoFDPassing = errors.New("descriptor passing is not supported on this system")

func openFDChannel() (host, child *os.File, err error) { return nil, nil, nil }

func hostFDChannel(f *os.File) (*fdChannel, error) {
	f.Close()
	return nil, errNoFDPassing
}

func adoptFD(int, bool) (*os.File, error) { return nil, errNoFDPassing }

func closeFD(int) {}

func fdSenderFromEnv() *fdSender { return nil }

func (s *fdSender) send(uint64, *os.File) error { return errNoFDPassing }

func newPipe() (r, w *os.File, err error) { return nil, nil, errNoFDPassing }
