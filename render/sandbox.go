package render

import (
	"bytes"

	jsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
	"github.com/google/go-jsonnet/toolutils"
)

// refuseTailstrict fails on a `tailstrict` call in any template the entry
// point imports. go-jsonnet does not count tail-strict calls against the
// stack limit (--max-stack), yet each still grows the Go stack, so a
// template recursing without end through one would crash the process
// instead of failing cleanly. Templates never need it.
func (ev *evaluator) refuseTailstrict(region string) error {
	deps, err := ev.dependencies()
	if err != nil {
		return nil // evaluation reports the import problem
	}
	for _, file := range deps {
		f := ev.imp.read(file)
		// The keyword can only be spelled out: a file without the word
		// has no such call, and is not parsed a second time.
		if f.err != nil || !bytes.Contains(f.data, []byte("tailstrict")) {
			continue
		}
		node, err := jsonnet.SnippetToAST(file, string(f.data))
		if err != nil {
			continue // evaluation reports the syntax error
		}
		if at := findTailstrict(node); at != nil {
			return &Error{Region: region, File: file, Line: at.Loc().Begin.Line,
				Msg:  "`tailstrict` is not allowed in templates",
				Hint: "it bypasses the evaluation depth limit (--max-stack), so endless recursion through it would crash coderfleet; remove it"}
		}
	}
	return nil
}

func findTailstrict(n ast.Node) ast.Node {
	if n == nil {
		return nil
	}
	if a, ok := n.(*ast.Apply); ok && a.TailStrict {
		return a
	}
	for _, c := range toolutils.Children(n) {
		if found := findTailstrict(c); found != nil {
			return found
		}
	}
	return nil
}
