package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coderfleet/coderfleet/config"
	"github.com/coderfleet/coderfleet/internal/fleet"
	"github.com/coderfleet/coderfleet/internal/repofs"
	"github.com/coderfleet/coderfleet/internal/treeio"
	"github.com/coderfleet/coderfleet/render"
	"github.com/coderfleet/coderfleet/reviewdiff"
)

// diffOptions are the flags of diff.
type diffOptions struct {
	repo     string
	base     string
	output   string
	exitCode bool
}

func newDiffCommand() *cobra.Command {
	o := &diffOptions{}
	c := &cobra.Command{
		Use:   "diff",
		Short: "Show what a change does to the rendered fleet, object by object",
		Long: `diff renders the fleet and compares it with a base, per region and component:
which Kubernetes objects are added, removed or changed, with a field-level diff
of each changed object (list items matched by name, e.g.
spec.template.spec.containers[coder].env[CODER_ACCESS_URL].value), the changes to
the AWS desired state (certificates, health checks, records, IAM roles with
their policies, secrets, Coder workspace proxies and provisioner keys — a key
by organization and name, so a changed organization replaces it) and a summary
line.

Without --base, the base is regions/ as committed at HEAD, read from git
(a render or an edit of regions/ not yet committed is not part of it): diff
shows what the working tree's inputs change compared with the last commit.
Outside a git repository it is regions/ on disk. With --base, the base is the fleet rendered as it
was at that git revision (overlays/ and templates/ are read from git; the
working tree is not touched), compared with a render of the working tree: what
a pull request changes. -o markdown is ready to paste into a pull-request
comment (one collapsible section per region; a report longer than GitHub's
65,536 characters is cut after an object, with a note on what was left out
and how to see it all); -o json (schema coderfleet.io/diff/v2) is
described in docs/json.md.

Exit code 0; with --exit-code, 1 when there are differences. 3: invalid input,
4: runtime failure (I/O, git missing), 64: usage error (a --base that is not a
commit).`,
		Example: `  # What would render change?
  coderfleet diff

  # In a pull request: what does this branch change compared with main?
  coderfleet diff --base origin/main -o markdown > diff.md

  # Fail a CI step when this branch changes the rendered fleet compared with
  # main (e.g. to ask for a platform review); "coderfleet check" is the gate
  # for a regions/ that was not re-rendered
  coderfleet diff --base origin/main --exit-code`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDiff(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	addRepoFlag(c, &o.repo)
	c.Flags().StringVar(&o.base, "base", "", "git revision to compare with (branch, tag or commit); default: regions/ as committed at HEAD")
	addOutputFlag(c, &o.output, []string{"text", "markdown", "json"})
	c.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 1 when there are differences, 0 when none")
	return c
}

func runDiff(ctx context.Context, o *diffOptions, out, stderr io.Writer) error {
	formats := make([]string, 0, len(reviewdiff.Formats))
	for _, f := range reviewdiff.Formats {
		formats = append(formats, string(f))
	}
	if err := checkOutput(o.output, formats); err != nil {
		return err
	}
	format := reviewdiff.Format(o.output)
	fsys, err := repofs.Open(o.repo)
	if err != nil {
		return err
	}
	defer fsys.Close()
	repo := fsys.Dir()
	var base map[string]render.Tree
	if o.base != "" {
		baseFS, cleanup, err := gitTree(ctx, repo, o.base, "overlays", "templates")
		if err != nil {
			return err
		}
		defer cleanup()
		opts, err := fleet.Prepare(baseFS, baseFS.Dir(), nil)
		if err != nil {
			return fmt.Errorf("rendering the fleet at %s: %w", o.base, err)
		}
		res, err := render.Render(ctx, opts)
		if err != nil {
			return fmt.Errorf("rendering the fleet at %s: %w", o.base, err)
		}
		base = res.Regions
	} else if base, err = committedRegions(ctx, repo, stderr); err != nil {
		return err
	}
	opts, err := fleet.Prepare(fsys, repo, nil)
	if err != nil {
		return err
	}
	head, err := render.Render(ctx, opts)
	if err != nil {
		return err
	}
	rep := reviewdiff.Diff(base, head.Regions)
	if err := rep.Write(out, format); err != nil {
		return err
	}
	if o.exitCode && !rep.Empty() {
		return &exitError{code: exitDiffers}
	}
	return nil
}

// committedRegions returns the regions/ folder of repo as committed at
// HEAD, read from git objects like --base reads overlays/ and templates/, so
// uncommitted edits and renders on disk are not part of the base. Outside a
// git repository it reads regions/ on disk, and says so on stderr.
func committedRegions(ctx context.Context, repo string, stderr io.Writer) (map[string]render.Tree, error) {
	if _, err := gitOutput(ctx, repo, nil, "rev-parse", "--git-dir"); err != nil {
		if errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "not a git repository") {
			fmt.Fprintf(stderr, "note: %s is not a git repository (or git is missing); comparing with regions/ on disk\n", repo)
			return treeio.Read(filepath.Join(repo, "regions"))
		}
		return nil, err
	}
	files, links, err := gitFiles(ctx, repo, "HEAD", "regions")
	if len(links) > 0 {
		p := slices.Min(slices.Collect(maps.Keys(links)))
		return nil, &config.Error{File: p, Msg: fmt.Sprintf("is committed at HEAD as a symbolic link to %q; render writes only regular files", links[p]),
			Hint: "run coderfleet render and commit regions/"}
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return nil, &usageError{err: fmt.Errorf("diff: the git repository at %q has no commit yet, so there is no committed regions/ to compare with (hint: commit regions/ first, or pass --base)", repo)}
		}
		return nil, err
	}
	out := map[string]render.Tree{}
	for p, data := range files {
		region, rest, ok := strings.Cut(strings.TrimPrefix(p, "regions/"), "/")
		if !ok || strings.HasPrefix(region, ".") {
			continue // a file beside the region folders, or a work folder
		}
		if out[region] == nil {
			out[region] = render.Tree{}
		}
		out[region][rest] = data
	}
	return out, nil
}

// gitOutput runs git in repo with stdin and returns its standard output; a
// failure names the git sub-command and carries git's own message.
func gitOutput(ctx context.Context, repo string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("running git: %w (hint: diff needs git on PATH)", err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// gitTree writes the folders dirs (relative to repo, which may be a
// sub-folder of its git work tree) as they are at revision rev, symbolic
// links as links, into a temporary folder, and opens that as a repository
// the way every verb opens the working tree (repofs.Open): the base renders
// under the same confinement, so a link leaving the repository is refused
// with the same error. cleanup removes the folder. The work tree, index and
// HEAD are left alone.
func gitTree(ctx context.Context, repo, rev string, dirs ...string) (_ *repofs.FS, cleanup func(), err error) {
	files, links, err := gitFiles(ctx, repo, rev, dirs...)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "coderfleet-base-")
	if err != nil {
		return nil, nil, err
	}
	fsys, err := repofs.Open(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	cleanup = func() {
		fsys.Close()
		os.RemoveAll(tmp)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	place := func(p string) (string, error) {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		return full, fsys.MkdirAll(filepath.Dir(full))
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		full, err := place(p)
		if err != nil {
			return nil, nil, err
		}
		// A throwaway tree: no durability (repofs.WriteFile's fsyncs) is
		// needed, and no link exists yet that a write could follow.
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(links)) {
		full, err := place(p)
		if err != nil {
			return nil, nil, err
		}
		if err := fsys.Symlink(links[p], full); err != nil {
			return nil, nil, err
		}
	}
	return fsys, cleanup, nil
}

// gitFiles returns the files of the folders dirs (relative to repo) as
// they are at revision rev, keyed by slash-separated path relative to repo,
// read with git ls-tree and git cat-file --batch, and apart from them the
// symbolic links, by path, with their targets. The work tree, index and
// HEAD are left alone. A rev that is not a commit is a *usageError.
func gitFiles(ctx context.Context, repo, rev string, dirs ...string) (files map[string][]byte, links map[string]string, err error) {
	git := func(stdin io.Reader, args ...string) ([]byte, error) {
		return gitOutput(ctx, repo, stdin, args...)
	}
	commit, err := git(nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, nil, err
		}
		if strings.Contains(err.Error(), "not a git repository") {
			return nil, nil, &usageError{err: fmt.Errorf("--base: %q is not inside a git repository (hint: run diff without --base to compare with regions/ on disk)", repo)}
		}
		return nil, nil, &usageError{err: fmt.Errorf("--base: %q is not a commit of the git repository at %q (hint: pass a branch, tag or commit such as origin/main; in a shallow CI clone, fetch it first)", rev, repo)}
	}
	sha := strings.TrimSpace(string(commit))
	list, err := git(nil, append([]string{"ls-tree", "-r", "-z", sha, "--"}, dirs...)...)
	if err != nil {
		return nil, nil, err
	}
	type entry struct {
		path, sha string
		link      bool // a symbolic link (mode 120000): the blob is its target
	}
	var entries []entry
	for _, rec := range bytes.Split(list, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		// "<mode> SP <type> SP <object> TAB <path>"
		meta, p, ok := strings.Cut(string(rec), "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			return nil, nil, fmt.Errorf("reading git ls-tree output: unexpected entry %q", rec)
		}
		switch fields[1] {
		case "blob":
			entries = append(entries, entry{path: p, sha: fields[2], link: fields[0] == "120000"})
		case "commit":
			// A submodule: not part of the fleet's inputs.
		default:
			return nil, nil, fmt.Errorf("reading git ls-tree output: unexpected object type %q for %q", fields[1], p)
		}
	}
	var req bytes.Buffer
	for _, e := range entries {
		req.WriteString(e.sha + "\n")
	}
	blobs, err := git(&req, "cat-file", "--batch")
	if err != nil {
		return nil, nil, err
	}
	files, links = make(map[string][]byte, len(entries)), map[string]string{}
	r := bufio.NewReader(bytes.NewReader(blobs))
	for _, e := range entries {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("reading git cat-file output for %q: %w", e.path, err)
		}
		f := strings.Fields(header)
		if len(f) != 3 || f[0] != e.sha || f[1] != "blob" {
			return nil, nil, fmt.Errorf("reading git cat-file output for %q: unexpected header %q", e.path, strings.TrimSpace(header))
		}
		size, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, nil, fmt.Errorf("reading git cat-file output for %q: bad size in %q", e.path, strings.TrimSpace(header))
		}
		data := make([]byte, size+1) // the content and its trailing newline
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, nil, fmt.Errorf("reading git cat-file output for %q: %w", e.path, err)
		}
		if e.link {
			links[e.path] = string(data[:size])
		} else {
			files[e.path] = data[:size]
		}
	}
	return files, links, nil
}
