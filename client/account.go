package client

import (
	"context"
)

// Accounts and keys are herald's extension to the Action API. Managing
// accounts needs an admin key; any key may manage its own account's keys.

// CreateAccountRequest is the input of CreateAccount (admin keys only).
type CreateAccountRequest struct {
	Common
	// Name (name) is required: 1 to 64 of [A-Za-z0-9_-].
	Name string
	// AppID (appId) is the new account's APPID; 0 lets the server pick the
	// next one above every existing APPID.
	AppID int64
}

func (*CreateAccountRequest) action() string { return "CreateAccount" }

func (r *CreateAccountRequest) encode(e *encoder) {
	e.str("name", r.Name)
	if r.AppID != 0 {
		e.int("appId", r.AppID)
	}
}

// CreateAccountResponse is the output of CreateAccount: the account and its
// first key. The SecretKey is shown this once.
type CreateAccountResponse struct {
	Meta
	// AppID is the account's APPID (the TopicOwner of what it creates).
	AppID int64 `json:"appId"`
	// Name is the account's name.
	Name string `json:"name"`
	// SecretID is the first key's SecretId.
	SecretID string `json:"secretId"`
	// SecretKey is the first key's SecretKey; herald never shows it again.
	SecretKey string `json:"secretKey"`
	// Admin is false: an account's first key is not an admin key.
	Admin bool `json:"admin"`
}

// CreateAccount makes an account and its first key.
func (c *Client) CreateAccount(ctx context.Context, req CreateAccountRequest) (*CreateAccountResponse, error) {
	return call[CreateAccountResponse](ctx, c, &req)
}

// ListAccountsRequest is the input of ListAccounts (admin keys only).
type ListAccountsRequest struct {
	Common
}

func (*ListAccountsRequest) action() string { return "ListAccounts" }

func (*ListAccountsRequest) encode(*encoder) {}

// AccountListItem is one entry of ListAccountsResponse.AccountList.
type AccountListItem struct {
	// AppID is the account's APPID.
	AppID int64 `json:"appId"`
	// Name is the account's name.
	Name string `json:"name"`
	// CreateTime is when the account was made, in Unix seconds.
	CreateTime int64 `json:"createTime"`
}

// ListAccountsResponse is the output of ListAccounts.
type ListAccountsResponse struct {
	Meta
	// TotalCount is the number of accounts.
	TotalCount int `json:"totalCount"`
	// AccountList is every account, by APPID.
	AccountList []AccountListItem `json:"accountList"`
}

// ListAccounts lists every account.
func (c *Client) ListAccounts(ctx context.Context, req ListAccountsRequest) (*ListAccountsResponse, error) {
	return call[ListAccountsResponse](ctx, c, &req)
}

// DeleteAccountRequest is the input of DeleteAccount (admin keys only).
type DeleteAccountRequest struct {
	Common
	// AppID (appId) is required.
	AppID int64
}

func (*DeleteAccountRequest) action() string { return "DeleteAccount" }

func (r *DeleteAccountRequest) encode(e *encoder) { e.int("appId", r.AppID) }

// DeleteAccount deletes an account that owns no topic and no queue any
// more, with all its keys (ErrAccountInUse otherwise).
func (c *Client) DeleteAccount(ctx context.Context, req DeleteAccountRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}

// CreateKeyRequest is the input of CreateKey.
type CreateKeyRequest struct {
	Common
	// AppID (appId) is the account the key is for; 0 (not sent) is the
	// caller's own. Only an admin key may name another account.
	AppID int64
	// Admin (admin=1) makes an admin key; only an admin key may.
	Admin bool
}

func (*CreateKeyRequest) action() string { return "CreateKey" }

func (r *CreateKeyRequest) encode(e *encoder) {
	if r.AppID != 0 {
		e.int("appId", r.AppID)
	}
	if r.Admin {
		e.str("admin", "1")
	}
}

// CreateKeyResponse is the output of CreateKey. The SecretKey is shown this
// once.
type CreateKeyResponse struct {
	Meta
	// AppID is the account the key signs for.
	AppID int64 `json:"appId"`
	// SecretID is the new key's SecretId.
	SecretID string `json:"secretId"`
	// SecretKey is the new key's SecretKey; herald never shows it again.
	SecretKey string `json:"secretKey"`
	// Admin says whether it is an admin key.
	Admin bool `json:"admin"`
}

// CreateKey makes a new key, e.g. to rotate one: create the new key, move
// the clients to it, revoke the old one.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*CreateKeyResponse, error) {
	return call[CreateKeyResponse](ctx, c, &req)
}

// ListKeysRequest is the input of ListKeys.
type ListKeysRequest struct {
	Common
	// AppID (appId) lists that account's keys; 0 (not sent) lists every
	// account's for an admin key, and the caller's own account's for
	// another key. Only an admin key may name another account.
	AppID int64
}

func (*ListKeysRequest) action() string { return "ListKeys" }

func (r *ListKeysRequest) encode(e *encoder) {
	if r.AppID != 0 {
		e.int("appId", r.AppID)
	}
}

// KeyListItem is one entry of ListKeysResponse.KeyList: a key without its
// SecretKey, which herald never lists.
type KeyListItem struct {
	// AppID is the account the key signs for.
	AppID int64 `json:"appId"`
	// SecretID is the key's SecretId.
	SecretID string `json:"secretId"`
	// Admin says whether it is an admin key.
	Admin bool `json:"admin"`
	// CreateTime is when the key was made, in Unix seconds.
	CreateTime int64 `json:"createTime"`
}

// ListKeysResponse is the output of ListKeys.
type ListKeysResponse struct {
	Meta
	// TotalCount is the number of keys listed.
	TotalCount int `json:"totalCount"`
	// KeyList is the keys, by APPID, oldest first.
	KeyList []KeyListItem `json:"keyList"`
}

// ListKeys lists keys.
func (c *Client) ListKeys(ctx context.Context, req ListKeysRequest) (*ListKeysResponse, error) {
	return call[ListKeysResponse](ctx, c, &req)
}

// RevokeKeyRequest is the input of RevokeKey.
type RevokeKeyRequest struct {
	Common
	// SecretID (secretId) is the key to revoke: the caller's own account's,
	// or any for an admin key.
	SecretID string
}

func (*RevokeKeyRequest) action() string { return "RevokeKey" }

func (r *RevokeKeyRequest) encode(e *encoder) { e.str("secretId", r.SecretID) }

// RevokeKey revokes a key: every herald process of the cluster refuses it
// within a second. The last admin key cannot be revoked (ErrLastAdminKey).
func (c *Client) RevokeKey(ctx context.Context, req RevokeKeyRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}
