package storetest

import "testing"

func TestEveryCheckQuotesARule(t *testing.T) {
	for _, c := range cases {
		if rules[c.name] == "" {
			t.Errorf("check %q has no rule to quote", c.name)
		}
	}
}
