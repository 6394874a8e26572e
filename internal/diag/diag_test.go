package diag

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{File: "overlays/fleet.yaml", Line: 3, Col: 5, Key: "coder.replicas", Msg: "expected an integer", Hint: "write a number"},
			`overlays/fleet.yaml:3:5: key "coder.replicas": expected an integer (hint: write a number)`},
		{Error{File: "overlays/fleet.yaml", Col: 5, Msg: "file is empty"}, "overlays/fleet.yaml: file is empty"},
		{Error{File: "regions/a/aws/records.yaml", Line: 9, Key: "records[0].ttl", BareKey: true, Msg: "unknown key"},
			"regions/a/aws/records.yaml:9: records[0].ttl: unknown key"},
		{Error{Region: "us-east-2", Component: "coder", Object: "Deployment/coder/coder", Field: "spec.replicas", Msg: "too many", Check: "x", Locate: "secret"},
			"region us-east-2, component coder, object Deployment/coder/coder, field spec.replicas: too many"},
		{Error{File: "templates/main.jsonnet", Region: "r", Msg: "wrong shape", Err: cause, Hint: "h"},
			"templates/main.jsonnet: region r: wrong shape: boom (hint: h)"},
		{Error{Err: cause}, "boom"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestUnwrapAndAll(t *testing.T) {
	a := &Error{File: "a", Msg: "first", Err: fs.ErrNotExist}
	b := &Error{File: "b", Msg: "second"}
	l := List{b, a}
	err := fmt.Errorf("loading: %w", l.Sorted().Err())
	if got, want := err.Error(), "loading: a: first: file does not exist\nb: second"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is does not reach the cause of a listed problem")
	}
	if !IsInput(err) || IsInput(errors.New("plain")) || IsInput(nil) {
		t.Error("IsInput does not tell a wrapped list from a plain error")
	}
	all := All(errors.Join(err, errors.New("other"), Wrap(fs.ErrClosed)))
	if len(all) != 3 || all[0] != a || all[1] != b || all[2].Err != fs.ErrClosed {
		t.Errorf("All = %v", all)
	}
	if (List{}).Err() != nil || Wrap(nil) != nil {
		t.Error("an empty list or a nil cause is not a nil error")
	}
}
