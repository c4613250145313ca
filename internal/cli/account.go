package cli

// The account and key commands call herald's account actions on a running
// server, like every client command; they need an admin key for accounts
// (any key manages its own account's keys). A stopped data directory is not
// edited in place: start herald on it first.

var appIDFlag = param{"app-id", "appId", "the account's APPID", false}

func init() {
	clientGroup["account"] = map[string]clientCommand{
		"create": {"CreateAccount", []string{"name"}, []param{{"app-id", "appId", "APPID for the account (default: the next free one)", false}}, "create an account and its first key (needs an admin key)"},
		"list":   {"ListAccounts", nil, nil, "list accounts (needs an admin key)"},
		"delete": {"DeleteAccount", []string{"appId"}, nil, "delete an account without topics or queues, and its keys (needs an admin key)"},
	}
	clientGroup["key"] = map[string]clientCommand{
		"create": {"CreateKey", nil, []param{{"app-id", "appId", "the account's APPID (default: the caller's)", false}, {"admin", "admin", "1 makes an admin key (only an admin key may)", false}}, "create a key; its SecretKey is shown once"},
		"list":   {"ListKeys", nil, []param{appIDFlag}, "list keys (SecretIds, never SecretKeys)"},
		"revoke": {"RevokeKey", []string{"secretId"}, nil, "revoke a key; every process refuses it within a second"},
	}
	clientCommands["account"] = true
	clientCommands["key"] = true
}
