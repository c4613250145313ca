package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

func TestAccountRequestEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action string
		call   func(context.Context, *client.Client) error
		want   map[string]string
	}{
		{
			name: "CreateAccount minimal", action: "CreateAccount",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateAccount(ctx, client.CreateAccountRequest{Name: "team"})
				return err
			},
			want: map[string]string{"name": "team"},
		},
		{
			name: "CreateAccount with appId", action: "CreateAccount",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateAccount(ctx, client.CreateAccountRequest{Name: "team", AppID: 1251000000, Common: client.Common{ClientRequestID: "7"}})
				return err
			},
			want: map[string]string{"name": "team", "appId": "1251000000", "clientRequestId": "7"},
		},
		{
			name: "ListAccounts", action: "ListAccounts",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListAccounts(ctx, client.ListAccountsRequest{})
				return err
			},
			want: map[string]string{},
		},
		{
			name: "DeleteAccount", action: "DeleteAccount",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.DeleteAccount(ctx, client.DeleteAccountRequest{AppID: 1000001})
				return err
			},
			want: map[string]string{"appId": "1000001"},
		},
		{
			name: "CreateKey own account", action: "CreateKey",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateKey(ctx, client.CreateKeyRequest{})
				return err
			},
			want: map[string]string{},
		},
		{
			name: "CreateKey admin for an account", action: "CreateKey",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateKey(ctx, client.CreateKeyRequest{AppID: 5000, Admin: true})
				return err
			},
			want: map[string]string{"appId": "5000", "admin": "1"},
		},
		{
			name: "ListKeys", action: "ListKeys",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListKeys(ctx, client.ListKeysRequest{})
				return err
			},
			want: map[string]string{},
		},
		{
			name: "ListKeys of an account", action: "ListKeys",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListKeys(ctx, client.ListKeysRequest{AppID: 5000})
				return err
			},
			want: map[string]string{"appId": "5000"},
		},
		{
			name: "RevokeKey", action: "RevokeKey",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.RevokeKey(ctx, client.RevokeKeyRequest{SecretID: "AKIDold"})
				return err
			},
			want: map[string]string{"secretId": "AKIDold"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, st := newStubClient(t, http.StatusOK, okEnvelope)
			require.NoError(t, tt.call(t.Context(), c))
			got := st.last()
			require.Equal(t, tt.want, got.actionParams())
			require.Equal(t, tt.action, got.param("Action"))
			require.Equal(t, testSecretID, got.param("SecretId"), "the signing key, not the revoked one")
		})
	}
}

func TestAccountResponseDecoding(t *testing.T) {
	t.Parallel()
	meta := client.Meta{RequestID: "req-1"}
	tests := []decodeCase{
		{
			name:    "CreateAccount",
			fixture: `{"code":0,"message":"","requestId":"req-1","appId":1000001,"name":"team","secretId":"AKIDnew","secretKey":"s3cret","admin":false}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateAccount(ctx, client.CreateAccountRequest{Name: "team"})
			},
			want: &client.CreateAccountResponse{Meta: meta, AppID: 1000001, Name: "team", SecretID: "AKIDnew", SecretKey: "s3cret"},
		},
		{
			name:    "ListAccounts",
			fixture: `{"code":0,"message":"","requestId":"req-1","totalCount":2,"accountList":[{"appId":5000,"name":"b","createTime":1700000000},{"appId":1000000,"name":"bootstrap","createTime":1690000000}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListAccounts(ctx, client.ListAccountsRequest{})
			},
			want: &client.ListAccountsResponse{Meta: meta, TotalCount: 2, AccountList: []client.AccountListItem{
				{AppID: 5000, Name: "b", CreateTime: 1700000000}, {AppID: 1000000, Name: "bootstrap", CreateTime: 1690000000},
			}},
		},
		{
			name:    "DeleteAccount",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DeleteAccount(ctx, client.DeleteAccountRequest{AppID: 5000})
			},
			want: &meta,
		},
		{
			name:    "CreateKey",
			fixture: `{"code":0,"message":"","requestId":"req-1","appId":5000,"secretId":"AKIDk","secretKey":"sk","admin":true}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateKey(ctx, client.CreateKeyRequest{AppID: 5000, Admin: true})
			},
			want: &client.CreateKeyResponse{Meta: meta, AppID: 5000, SecretID: "AKIDk", SecretKey: "sk", Admin: true},
		},
		{
			name:    "ListKeys",
			fixture: `{"code":0,"message":"","requestId":"req-1","totalCount":1,"keyList":[{"appId":5000,"secretId":"AKIDk","admin":true,"createTime":1700000000}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListKeys(ctx, client.ListKeysRequest{})
			},
			want: &client.ListKeysResponse{Meta: meta, TotalCount: 1, KeyList: []client.KeyListItem{{AppID: 5000, SecretID: "AKIDk", Admin: true, CreateTime: 1700000000}}},
		},
		{
			name:    "RevokeKey",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RevokeKey(ctx, client.RevokeKeyRequest{SecretID: "AKIDk"})
			},
			want: &meta,
		},
	}
	checkDecoding(t, tests)
}

// The account errors match their Err values, and only theirs.
func TestAccountErrors(t *testing.T) {
	t.Parallel()
	// want is the index in all of the one Err value the body matches.
	tests := []struct {
		body string
		want int
	}{
		{`{"code":4000,"message":"(10461)no cam authentication: the key is not an admin key","requestId":"r"}`, 0},
		{`{"code":4440,"message":"(10900)account is not existed, or deleted","requestId":"r"}`, 1},
		{`{"code":4460,"message":"(10910)account is already existed","requestId":"r"}`, 2},
		{`{"code":4000,"message":"(10920)topics or queues exist, the account cannot be deleted","requestId":"r"}`, 3},
		{`{"code":4440,"message":"(10930)secret id is not existed, or revoked","requestId":"r"}`, 4},
		{`{"code":4000,"message":"(10940)the last admin key cannot be revoked","requestId":"r"}`, 5},
	}
	all := []error{client.ErrPermissionDenied, client.ErrAccountNotExist, client.ErrAccountExists, client.ErrAccountInUse,
		client.ErrKeyNotExist, client.ErrLastAdminKey, client.ErrTopicExists, client.ErrQueueExists, client.ErrAuthFailed}
	for _, tt := range tests {
		c, _ := newStubClient(t, http.StatusOK, tt.body)
		_, err := c.RevokeKey(t.Context(), client.RevokeKeyRequest{SecretID: "AKIDk"})
		require.Error(t, err)
		for i, e := range all {
			require.Equal(t, i == tt.want, errors.Is(err, e), "%v is %v", err, e)
		}
	}
}
