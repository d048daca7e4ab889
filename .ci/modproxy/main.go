// Command modproxy writes a module proxy, in the file layout of
// `go help goproxy`, that serves every module of a working tree at one
// version. CI points GOPROXY at it (file://DIR) to check, before anything is
// tagged, that a user can `go get` the root module and each sub-module at the
// version their go.mod files require.
//
//	go run . -repo ../.. -version v0.1.0 -out /tmp/proxy
//
// A module is every directory of the tree with a go.mod, except the ones
// under a directory whose name starts with "." or "_" and testdata (the go
// command ignores those too). Each module's zip is made by
// golang.org/x/mod/zip from the directory as it is, uncommitted changes
// included, leaving out nested modules as the go command does.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	repo := flag.String("repo", ".", "root of the working tree")
	version := flag.String("version", "", "version to serve every module at, such as v0.1.0")
	out := flag.String("out", "", "directory to write the proxy to (created)")
	flag.Parse()
	if err := run(*repo, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(repo, version, out string) error {
	if out == "" {
		return errors.New("-out is required")
	}
	if !semver.IsValid(version) || semver.Canonical(version) != version {
		return fmt.Errorf("-version %q is not a canonical semantic version such as v0.1.0", version)
	}
	dirs, err := moduleDirs(repo)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no go.mod under %s", repo)
	}
	for _, dir := range dirs {
		path, err := serve(dir, version, out)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Printf("%s@%s\t%s\n", path, version, dir)
	}
	return nil
}

// moduleDirs returns the directories under repo that hold a go.mod.
func moduleDirs(repo string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != repo && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	return dirs, err
}

// serve writes the list, info, mod and zip files of the module in dir at
// version, and returns its path.
func serve(dir, version, out string) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return "", errors.New("go.mod has no module line")
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  gomod,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	zf, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		return "", err
	}
	err = modzip.CreateFromDir(zf, module.Version{Path: path, Version: version}, dir)
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	return path, err
}
