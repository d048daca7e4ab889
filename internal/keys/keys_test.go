package keys

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOf(t *testing.T) {
	type plain struct {
		A string
		B [2]int
	}
	type float struct {
		A string
		F float64
	}
	type iface struct {
		F float32
		I any
	}
	for _, c := range []struct {
		name string
		got  Kind
		want Kind
	}{
		{"string", Of[string](), Plain},
		{"struct of plain fields", Of[plain](), Plain},
		{"[0]any", Of[[0]any](), Plain},
		{"float64", Of[float64](), Float},
		{"struct with a float", Of[float](), Float},
		{"any", Of[any](), Iface},
		{"[2]any", Of[[2]any](), Iface},
		{"struct with a float and an interface", Of[iface](), Iface},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
}

func TestHashable(t *testing.T) {
	for _, k := range []any{1, "x", struct{ A any }{2}} {
		assert.NoError(t, Hashable("test", k), "%v", k)
	}
	for _, k := range []any{[]int{1}, map[int]int{}, func() {}, struct{ A any }{[]byte("x")}} {
		assert.ErrorIs(t, Hashable("test", k), singleflight.ErrUnhashableKey, "%T", k)
	}
}
