-- CoreDB demo schema: the 12 tables the original system captured, each with a primary key.
-- Column names follow the sample events in tests/events and tests/golden; the types cover what
-- the PostgreSQL source decodes (docs/types.md). Idempotent: safe to run more than once.
--
--   psql "$CDC_PG_DSN" -v ON_ERROR_STOP=1 -f sql/coredb.sql

CREATE TABLE IF NOT EXISTS users (
    id            text PRIMARY KEY,                 -- 'usr_1001'
    email         text NOT NULL UNIQUE,             -- PII
    phone         text,                             -- PII
    full_name     text,                             -- PII
    status        text NOT NULL DEFAULT 'active',
    roles         text[] NOT NULL DEFAULT '{}',
    email_verified boolean NOT NULL DEFAULT false,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS customers (
    id            text PRIMARY KEY,                 -- 'cus_42'
    user_id       text,
    full_name     text NOT NULL,                    -- PII
    email         text,                             -- PII
    phone         text,                             -- PII
    address       jsonb,                            -- PII: {"line1", "city", "postcode", "country"}
    date_of_birth date,                             -- PII
    loyalty_tier  text,
    marketing_opt_in boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
    id            bigint PRIMARY KEY,               -- 301
    sku           text NOT NULL UNIQUE,
    name          text NOT NULL,
    description   text,
    price         numeric(12,2) NOT NULL,
    currency      char(3) NOT NULL DEFAULT 'EUR',
    weight_kg     real,
    tags          text[],
    attributes    jsonb,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
    id             text PRIMARY KEY,                -- 'ord_5001'
    user_id        text NOT NULL,
    customer_id    text,
    card_number    text,                            -- payment data: redacted
    card_last4     char(4),
    card_expiry    text,                            -- payment data: redacted
    billing_name   text,                            -- PII
    billing_address jsonb,                          -- PII
    items          jsonb NOT NULL DEFAULT '[]',
    total          numeric(12,2) NOT NULL,
    currency       char(3) NOT NULL DEFAULT 'EUR',
    status         text NOT NULL DEFAULT 'placed',
    placed_at      timestamptz NOT NULL DEFAULT now(),
    shipped_on     date,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS inventory (
    id            bigint PRIMARY KEY,               -- 77
    product_id    bigint NOT NULL,
    warehouse     text NOT NULL,                    -- 'LHR-1'
    quantity      integer NOT NULL DEFAULT 0,
    reserved      integer NOT NULL DEFAULT 0,
    reorder_level smallint NOT NULL DEFAULT 10,
    last_counted_on date,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, warehouse)
);

CREATE TABLE IF NOT EXISTS transactions (
    id             text PRIMARY KEY,                -- 'txn_9001'
    order_id       text,
    account_number text,                            -- financial data: redacted
    iban           text,                            -- financial data: redacted
    amount         numeric(18,4) NOT NULL,
    currency       char(3) NOT NULL,
    kind           text NOT NULL DEFAULT 'payment', -- payment, refund, chargeback
    reference      uuid,
    booked_at      timestamptz NOT NULL DEFAULT now(),
    value_date     date
);

CREATE TABLE IF NOT EXISTS sessions (
    id            text PRIMARY KEY,                 -- 'ses_abc'
    user_id       text NOT NULL,
    auth_token    text NOT NULL,                    -- secret: redacted
    refresh_token text,                             -- secret: redacted
    ip            inet,
    user_agent    text,
    idle_timeout  interval NOT NULL DEFAULT '30 minutes',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications (
    id            bigint PRIMARY KEY,               -- 5
    user_id       text NOT NULL,
    channel       text NOT NULL,                    -- email, sms, push
    template      text NOT NULL,
    status        text NOT NULL DEFAULT 'queued',
    attempts      smallint NOT NULL DEFAULT 0,
    payload       jsonb,
    scheduled_at  timestamptz,
    sent_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audit_logs (
    id            bigint PRIMARY KEY,               -- 880
    actor         text NOT NULL,
    action        text NOT NULL,                    -- 'order.pay'
    target_table  text,
    target_id     text,
    details       jsonb,
    source_ip     inet,
    request_id    uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS metrics (
    id            bigint PRIMARY KEY,               -- 12
    name          text NOT NULL,                    -- 'checkout.latency_ms'
    value         double precision NOT NULL,
    unit          text,
    tags          jsonb NOT NULL DEFAULT '{}',
    samples       double precision[],
    recorded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS configurations (
    id            text PRIMARY KEY,                 -- 'feature.new_checkout'
    value         jsonb NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    description   text,
    updated_by    text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS events (
    id            text PRIMARY KEY,                 -- 'evt_1'
    type          text NOT NULL,                    -- 'signup'
    aggregate_id  text,
    payload       jsonb NOT NULL DEFAULT '{}',
    schema_version smallint NOT NULL DEFAULT 1,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    occurred_on   date,
    local_time    time,
    ttl           interval
);
