package cli

// The account and key commands call herald's account actions on a running
// server, like every client command; they need an admin key for accounts
// (any key manages its own account's keys). A stopped data directory is not
// edited in place: start herald on it first.

func init() {
	appID := param{"app-id", "appId", "the account's APPID (default: the caller's own)", false}
	clientGroup["account"] = map[string]clientCommand{
		"create": {"CreateAccount", []string{"name"}, []param{{"app-id", "appId", "APPID for the account (default: the next free one)", false}}, "create an account and its first key (needs an admin key)"},
		"list":   {"ListAccounts", nil, nil, "list accounts (needs an admin key)"},
		"delete": {"DeleteAccount", []string{"appId"}, nil, "delete an account without topics or queues, and its keys (needs an admin key)"},
	}
	clientGroup["key"] = map[string]clientCommand{
		"create": {"CreateKey", nil, []param{appID, {"admin", "admin", "make an admin key (only an admin key may)", false}}, "create a key; its SecretKey is shown once"},
		"list":   {"ListKeys", nil, []param{{"app-id", "appId", "the account's APPID (default: every account's for an admin key, else the caller's own)", false}}, "list keys (SecretIds, never SecretKeys)"},
		"revoke": {"RevokeKey", []string{"secretId"}, nil, "revoke a key; every herald process refuses it within a second"},
	}
	clientCommands["account"] = true
	clientCommands["key"] = true
	groupAbout = append(groupAbout, struct{ group, about string }{"account", "manage accounts"}, struct{ group, about string }{"key", "manage API keys"})
	argLabels["appId"] = "APPID"
	argLabels["secretId"] = "SECRET_ID"
	argLabels["name"] = "NAME"
	paramKinds["appId"] = kindInt
	paramKinds["admin"] = kindBool
}
