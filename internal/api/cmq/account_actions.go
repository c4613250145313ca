package cmq

import (
	"context"
	"regexp"
	"time"

	"github.com/herald-mq/herald/internal/account"
)

// AccountAdmin manages accounts and keys (herald's extension: CMQ keeps
// them in the cloud console).
type AccountAdmin interface {
	CreateAccount(ctx context.Context, appID int64, name string, now time.Time) (account.Account, account.Key, error)
	Accounts(ctx context.Context) ([]account.Account, error)
	DeleteAccount(ctx context.Context, appID int64) error
	CreateKey(ctx context.Context, appID int64, admin bool, now time.Time) (account.Key, error)
	Keys(ctx context.Context, appID int64) ([]account.Key, error)
	RevokeKey(ctx context.Context, secretID string) error
}

// Errors of the account and key actions. CMQ documents 4000/10461 for a
// caller without the permission; the rest are herald's.
var (
	errNotAdmin     = errf(4000, 10461, "no cam authentication: the key is not an admin key")
	errOtherAccount = errf(4000, 10461, "no cam authentication: the key belongs to another account")
	errRevokeAdmin  = errf(4000, 10461, "no cam authentication: only an admin key may revoke an admin key")
	errAccountName  = errf(4000, 10950, "account name format error")
	errAccountInUse = errf(4000, 10920, "topics or queues exist, the account cannot be deleted")
)

// maxAppID keeps APPIDs exact in every JSON decoder (2^53-1).
const maxAppID = 1<<53 - 1

// accountNameRE is what an account's name may hold.
var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Server) addAccountActions() {
	s.add("CreateAccount", s.adminOnly(s.createAccount))
	s.add("ListAccounts", s.adminOnly(s.listAccounts))
	s.add("DeleteAccount", s.adminOnly(s.deleteAccount))
	s.add("CreateKey", s.createKey)
	s.add("ListKeys", s.listKeys)
	s.add("RevokeKey", s.revokeKey)
}

func (s *Server) adminOnly(f actionFunc) actionFunc {
	return func(ctx context.Context, req *Request) (any, error) {
		if !req.Account.Admin {
			return nil, errNotAdmin
		}
		return f(ctx, req)
	}
}

// newKeyResponse is a key with its SecretKey: only the actions that make
// one return it, once.
type newKeyResponse struct {
	AppID     int64  `json:"appId"`
	Name      string `json:"name,omitempty"`
	SecretID  string `json:"secretId"`
	SecretKey string `json:"secretKey"`
	Admin     bool   `json:"admin"`
}

func (s *Server) createAccount(ctx context.Context, req *Request) (any, error) {
	name, err := req.Params.Required("name")
	if err != nil {
		return nil, err
	}
	if !accountNameRE.MatchString(name) {
		return nil, errAccountName
	}
	appID, err := req.Params.Int("appId", 1, maxAppID, 0)
	if err != nil {
		return nil, err
	}
	a, k, err := s.deps.Admin.CreateAccount(ctx, appID, name, s.deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	s.deps.Log.Info("account created", "appId", a.AppID, "name", a.Name, "by", req.Account.SecretID)
	return newKeyResponse{AppID: a.AppID, Name: a.Name, SecretID: k.SecretID, SecretKey: k.SecretKey, Admin: k.Admin}, nil
}

type accountItem struct {
	AppID      int64  `json:"appId"`
	Name       string `json:"name"`
	CreateTime int64  `json:"createTime"`
}

func (s *Server) listAccounts(ctx context.Context, _ *Request) (any, error) {
	accts, err := s.deps.Admin.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]accountItem, len(accts))
	for i, a := range accts {
		items[i] = accountItem{AppID: a.AppID, Name: a.Name, CreateTime: a.Created.Unix()}
	}
	return struct {
		TotalCount  int           `json:"totalCount"`
		AccountList []accountItem `json:"accountList"`
	}{len(items), items}, nil
}

func (s *Server) deleteAccount(ctx context.Context, req *Request) (any, error) {
	appID, err := req.Params.RequiredInt("appId", 1, maxAppID)
	if err != nil {
		return nil, err
	}
	// A topic or queue the account's keys create between this check and
	// the keys' removal outlives the account; its keys are gone, so only an
	// account made again with the same APPID reaches it.
	if n, _ := s.deps.Topics.ListTopics(appID, "", 0, 1); n > 0 {
		return nil, errAccountInUse
	}
	if s.deps.Queues != nil {
		if n, _ := s.deps.Queues.ListQueues(appID, "", 0, 1); n > 0 {
			return nil, errAccountInUse
		}
	}
	if err := s.deps.Admin.DeleteAccount(ctx, appID); err != nil {
		return nil, err
	}
	s.deps.Log.Info("account deleted", "appId", appID, "by", req.Account.SecretID)
	return nil, nil
}

// targetAccount is the appId parameter, or the caller's own account; a
// non-admin key may name only its own.
func targetAccount(req *Request) (int64, error) {
	appID, err := req.Params.Int("appId", 1, maxAppID, req.Account.AppID)
	if err != nil {
		return 0, err
	}
	if appID != req.Account.AppID && !req.Account.Admin {
		return 0, errOtherAccount
	}
	return appID, nil
}

func (s *Server) createKey(ctx context.Context, req *Request) (any, error) {
	appID, err := targetAccount(req)
	if err != nil {
		return nil, err
	}
	admin, err := req.Params.Int("admin", 0, 1, 0)
	if err != nil {
		return nil, err
	}
	if admin == 1 && !req.Account.Admin {
		return nil, errNotAdmin
	}
	k, err := s.deps.Admin.CreateKey(ctx, appID, admin == 1, s.deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	s.deps.Log.Info("key created", "appId", appID, "secretId", k.SecretID, "admin", k.Admin, "by", req.Account.SecretID)
	return newKeyResponse{AppID: k.AppID, SecretID: k.SecretID, SecretKey: k.SecretKey, Admin: k.Admin}, nil
}

// keyItem is a key as ListKeys shows it: never its SecretKey.
type keyItem struct {
	AppID      int64  `json:"appId"`
	SecretID   string `json:"secretId"`
	Admin      bool   `json:"admin"`
	CreateTime int64  `json:"createTime"`
}

func (s *Server) listKeys(ctx context.Context, req *Request) (any, error) {
	var appID int64
	if _, ok := req.Params.Get("appId"); ok || !req.Account.Admin {
		var err error
		if appID, err = targetAccount(req); err != nil {
			return nil, err
		}
	}
	keys, err := s.deps.Admin.Keys(ctx, appID)
	if err != nil {
		return nil, err
	}
	items := make([]keyItem, len(keys))
	for i, k := range keys {
		items[i] = keyItem{AppID: k.AppID, SecretID: k.SecretID, Admin: k.Admin, CreateTime: k.Created.Unix()}
	}
	return struct {
		TotalCount int       `json:"totalCount"`
		KeyList    []keyItem `json:"keyList"`
	}{len(items), items}, nil
}

func (s *Server) revokeKey(ctx context.Context, req *Request) (any, error) {
	id, err := req.Params.Required("secretId")
	if err != nil {
		return nil, err
	}
	if !req.Account.Admin {
		k, err := s.deps.Accounts.Lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if k.AppID != req.Account.AppID {
			return nil, errOtherAccount
		}
		if k.Admin {
			return nil, errRevokeAdmin
		}
	}
	if err := s.deps.Admin.RevokeKey(ctx, id); err != nil {
		return nil, err
	}
	s.deps.Log.Info("key revoked", "secretId", id, "by", req.Account.SecretID)
	return nil, nil
}
