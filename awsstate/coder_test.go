package awsstate

import (
	"bytes"
	"strings"
	"testing"
)

// TestCoderListsRoundTrip marshals a workspace proxy list and a provisioner
// key list, parses them back and marshals again: the bytes must not change.
func TestCoderListsRoundTrip(t *testing.T) {
	token := func(name string) Secret {
		return Secret{Name: "demo/us-west-2/" + name, AWSRegion: "us-west-2", Tags: OwnedTags("demo", "us-west-2", name)}
	}
	files := map[string]File{
		WorkspaceProxiesFile: {Kind: KindWorkspaceProxyList, Fleet: "demo", Region: "us-west-2", WorkspaceProxies: []WorkspaceProxy{{
			Name: "us-west-2", DisplayName: "Oregon", Icon: "/emojis/1f1fa-1f1f8.png", TokenSecret: token("coder-proxy-token"),
		}}},
		ProvisionerKeysFile: {Kind: KindProvisionerKeyList, Fleet: "demo", Region: "us-west-2", ProvisionerKeys: []ProvisionerKey{{
			Name: "us-west-2-coder-ws", Organization: "coder", Tags: map[string]string{"region": "us-west-2", "namespace": "coder-ws"},
			TokenSecret: token("provisioner-key-coder-ws"),
		}}},
	}
	for name, f := range files {
		b, err := Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(name, b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		again, err := Marshal(*got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, again) {
			t.Errorf("%s changed on a round trip:\n%s\n---\n%s", name, b, again)
		}
	}
}

// TestParseCoderListsRefuse covers the checks of the Coder lists.
func TestParseCoderListsRefuse(t *testing.T) {
	proxies := "apiVersion: coderfleet.io/aws/v1alpha1\nkind: WorkspaceProxyList\nfleet: demo\nregion: r\nworkspaceProxies:\n"
	proxy := "  - name: us-west-2\n    displayName: Oregon\n    icon: /emojis/1f310.png\n    tokenSecret: {name: demo/r/t, awsRegion: us-west-2}\n"
	keys := "apiVersion: coderfleet.io/aws/v1alpha1\nkind: ProvisionerKeyList\nfleet: demo\nregion: r\nprovisionerKeys:\n"
	key := "  - name: r-ws\n    organization: coder\n    tags: {region: us-west-2}\n    tokenSecret: {name: demo/r/k, awsRegion: us-west-2}\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"duplicate proxy", proxies + proxy + proxy, `"us-west-2" is also defined by workspaceProxies[0]`},
		{"proxy name rule", proxies + strings.Replace(proxy, "name: us-west-2", "name: us--west", 1), "not a valid Coder name"},
		{"proxy name length", proxies + strings.Replace(proxy, "name: us-west-2", "name: "+strings.Repeat("a", 33), 1), "at most 32"},
		{"display name length", proxies + strings.Replace(proxy, "Oregon", strings.Repeat("O", 65), 1), "at most 64 characters, got 65"},
		{"missing token secret", proxies + "  - name: a\n    displayName: A\n    icon: /i.png\n", "tokenSecret"},
		{"missing icon", proxies + "  - name: a\n    displayName: A\n    tokenSecret: {name: n, awsRegion: us-west-2}\n", "icon"},
		{"empty icon", proxies + strings.Replace(proxy, "icon: /emojis/1f310.png", "icon: ''", 1), "icon"},
		{"bad token secret name", proxies + strings.Replace(proxy, "demo/r/t", "demo r", 1), "not a valid secret name"},
		{"duplicate key", keys + key + key, `"coder/r-ws" is also defined by provisionerKeys[0]`},
		{"reserved key name", keys + strings.Replace(key, "name: r-ws", "name: PSK", 1), "reserves"},
		{"key name length", keys + strings.Replace(key, "name: r-ws", "name: "+strings.Repeat("k", 65), 1), "at most 64 characters, got 65"},
		{"missing organization", keys + "  - name: k\n    tags: {}\n    tokenSecret: {name: n, awsRegion: us-west-2}\n", "organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
