package singleflight_test

import (
	"context"
	"fmt"

	"github.com/flightcache/flightcache/singleflight"
)

func ExampleGroup_Do() {
	var g singleflight.Group[string, string]
	v, err, shared := g.Do(context.Background(), "user:7", func(ctx context.Context) (string, error) {
		// Callers asking for "user:7" while this runs wait for it instead of
		// querying the database again.
		return "profile of user 7", nil
	})
	fmt.Println(v, err, shared)
	// Output:
	// profile of user 7 <nil> false
}

func ExampleGroup_DoChan() {
	var g singleflight.Group[string, string]
	release := make(chan struct{})
	loads := 0
	load := func(context.Context) (string, error) {
		loads++
		<-release // a slow query
		return "profile of user 7", nil
	}

	// Both calls are registered when DoChan returns: the second joins the
	// first instead of running load again.
	first := g.DoChan(context.Background(), "user:7", load)
	second := g.DoChan(context.Background(), "user:7", load)
	close(release)

	a, b := <-first, <-second
	fmt.Println(a.Val, a.Shared)
	fmt.Println(b.Val, b.Shared)
	fmt.Println("loads:", loads)
	// Output:
	// profile of user 7 true
	// profile of user 7 true
	// loads: 1
}

func ExampleWrap() {
	// The decorator form: wrap a function once, call it like the original.
	var g singleflight.Group[int, string]
	fetchUser := singleflight.Wrap(&g, func(ctx context.Context, id int) (string, error) {
		return fmt.Sprintf("user-%d", id), nil
	})

	name, err := fetchUser(context.Background(), 42)
	fmt.Println(name, err)
	// Output:
	// user-42 <nil>
}

func ExamplePanicError() {
	var g singleflight.Group[string, int]
	r := <-g.DoChan(context.Background(), "k", func(context.Context) (int, error) {
		panic("corrupt row")
	})
	if pe, ok := r.Err.(*singleflight.PanicError); ok {
		fmt.Println("recovered:", pe.Value)
	}
	// Output:
	// recovered: corrupt row
}
