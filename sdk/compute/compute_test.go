package compute

import (
	"errors"
	"testing"
)

func TestJobSpecValidate(t *testing.T) {
	good := JobSpec{
		Algorithm: Algorithm{Ref: "alg.wasm"},
		Inputs:    []Input{{Name: "data", URL: "http://x", Path: "data/in.csv"}},
		Outputs:   []Output{{Name: "model", Path: "model.bin"}},
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*JobSpec){
		"no ref":        func(s *JobSpec) { s.Algorithm.Ref = "" },
		"abs path":      func(s *JobSpec) { s.Inputs[0].Path = "/etc/passwd" },
		"dotdot":        func(s *JobSpec) { s.Outputs[0].Path = "a/../../x" },
		"dup output":    func(s *JobSpec) { s.Outputs = append(s.Outputs, s.Outputs[0]) },
		"neg memory":    func(s *JobSpec) { s.Resources.MemoryBytes = -1 },
		"bad role":      func(s *JobSpec) { s.Federated = &Federated{Role: "boss", Session: "s", Rounds: 1} },
		"fed no rounds": func(s *JobSpec) { s.Federated = &Federated{Role: RoleAggregator, Session: "s"} },
	} {
		s := good
		s.Inputs = append([]Input(nil), good.Inputs...)
		s.Outputs = append([]Output(nil), good.Outputs...)
		mut(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: Validate = %v, want ErrInvalidSpec", name, err)
		}
	}
}
