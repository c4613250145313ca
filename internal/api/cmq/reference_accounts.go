package cmq

import "github.com/herald-mq/herald/internal/account"

// The reference of the account and key actions (herald's extension).

const groupAccounts = "Accounts and keys"

func appIDParam(required bool, desc, example string) ParamDoc {
	return ParamDoc{Name: "appId", Type: "int", Required: required, Range: span(1, maxAppID), Herald: true, Desc: desc, Example: example}
}

var newKeyFields = []FieldDoc{
	{Name: "appId", Type: "int", Herald: true, Desc: "the key's account"},
	{Name: "secretId", Type: "string", Herald: true, Desc: "the key's SecretId"},
	{Name: "secretKey", Type: "string", Herald: true, Desc: "the key's SecretKey: shown this once, never again"},
	{Name: "admin", Type: "bool", Herald: true, Desc: "whether the key is an admin key"},
}

var accountDocs = []ActionDoc{
	{
		Name: "CreateAccount", Group: groupAccounts, Herald: true, Summary: "Creates an account (admin keys only), with a first key, an admin key of the new account.",
		Params: []ParamDoc{
			{Name: "name", Type: "string", Required: true, Limit: "1–64 of `A-Z a-z 0-9 _ -` (`" + accountNameRE.String() + "`)", Herald: true, Desc: "the account's name", Example: "team-c"},
			appIDParam(false, "the account's APPID (its `TopicOwner`); absent: the next free one", "3000000"),
		},
		Fields: append([]FieldDoc{{Name: "name", Type: "string", Herald: true, Desc: "the account's name"}}, newKeyFields...),
		Errors: []error{errNotAdmin, errAccountName, account.ErrAccountExists},
	},
	{
		Name: "ListAccounts", Group: groupAccounts, Herald: true, Summary: "Lists every account (admin keys only).",
		Fields: []FieldDoc{
			{Name: "totalCount", Type: "int", Herald: true},
			{Name: "accountList", Type: "array", Herald: true},
			{Name: "accountList[].appId", Type: "int", Herald: true},
			{Name: "accountList[].name", Type: "string", Herald: true},
			{Name: "accountList[].createTime", Type: "int", Herald: true, Desc: "Unix seconds"},
		},
		Errors: []error{errNotAdmin},
	},
	{
		Name: "DeleteAccount", Group: groupAccounts, Herald: true, Summary: "Deletes an account without topics or queues, and its keys (admin keys only).",
		Params: []ParamDoc{appIDParam(true, "the account", "2000000")},
		Errors: []error{errNotAdmin, errAccountInUse, account.ErrAccountNotFound, account.ErrLastAdminKey},
	},
	{
		Name: "CreateKey", Group: groupAccounts, Herald: true, Summary: "Creates a key of an account: rotation is CreateKey, move the clients, RevokeKey.",
		Params: []ParamDoc{
			appIDParam(false, "the account; only an admin key may name another than its own", "2000000"),
			{Name: "admin", Type: "int", Range: span(0, 1), Default: "0", Herald: true, Desc: "1: an admin key (only an admin key may make one)", Example: "0"},
		},
		Fields: newKeyFields,
		Errors: []error{errOtherAccount, errNotAdmin, account.ErrAccountNotFound},
	},
	{
		Name: "ListKeys", Group: groupAccounts, Herald: true, Summary: "Lists keys, never their SecretKeys: an account's, or every account's (an admin key without appId).",
		Params: []ParamDoc{appIDParam(false, "the account; default: the caller's, or every account for an admin key", "2000000")},
		Fields: []FieldDoc{
			{Name: "totalCount", Type: "int", Herald: true},
			{Name: "keyList", Type: "array", Herald: true},
			{Name: "keyList[].appId", Type: "int", Herald: true},
			{Name: "keyList[].secretId", Type: "string", Herald: true},
			{Name: "keyList[].admin", Type: "bool", Herald: true},
			{Name: "keyList[].createTime", Type: "int", Herald: true, Desc: "Unix seconds"},
		},
		Errors: []error{errOtherAccount},
	},
	{
		Name: "RevokeKey", Group: groupAccounts, Herald: true, Summary: "Revokes a key: every herald process refuses it within a second.",
		Params: []ParamDoc{{Name: "secretId", Type: "string", Required: true, Herald: true, Desc: "the key; a key of the caller's account unless the caller is an admin key", Example: "<secretId>"}},
		Errors: []error{account.ErrNotFound, errOtherAccount, errRevokeAdmin, account.ErrLastAdminKey},
	},
}
