package awsstate

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// re-marshals into a file it accepts again with the same content.
func FuzzParse(f *testing.F) {
	for _, region := range []string{"primary", "proxy"} {
		for _, b := range fixture(f, region) {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: coderfleet.io/aws/v1alpha1\nkind: RecordList\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("- [&a a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := Marshal(*file)
		if err != nil {
			t.Fatalf("accepted file does not marshal: %v", err)
		}
		again, err := Parse("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("re-marshalled file rejected: %v\n%s", err, out)
		}
		out2, _ := Marshal(*again)
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzParseOutputs checks that ParseOutputs never panics and round-trips.
func FuzzParseOutputs(f *testing.F) {
	f.Add(MarshalOutputs(Outputs{Certificates: map[string]string{"coder": "arn:aws:acm:us-east-2:1:certificate/a"}}))
	f.Add(MarshalOutputs(Outputs{}))
	f.Add([]byte("certificates: {a: b}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOutputs("fuzz.yaml", data)
		if err != nil {
			return
		}
		b := MarshalOutputs(*o)
		o2, err := ParseOutputs("fuzz.yaml", b)
		if err != nil {
			t.Fatalf("re-marshalled outputs rejected: %v\n%s", err, b)
		}
		if !bytes.Equal(b, MarshalOutputs(*o2)) {
			t.Fatal("outputs marshal not stable")
		}
	})
}
