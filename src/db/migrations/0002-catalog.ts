import { sql, type Kysely } from 'kysely'

/**
 * Catalog tables (the product side of rs-fem and rs-ingest). Every row carries its tenant.
 *
 * - `catalog_product`: GeoJSON features (`URN:FEATURE:…`) and AIP records (`URN:AIP:…`) in one table, keyed by
 *   (tenant, urn), with a dissemination status kept up to date by every batch that changes its infos, so the
 *   status filter is an index scan, not an aggregate.
 * - `catalog_dissemination`: one row per product × recipient label (REGARDS FeatureDisseminationInfo).
 * - `catalog_request`: FEM requests (creation, patch, deletion, notification) and AIP disseminations while they
 *   live; a successful request leaves it (so its id can be reused, as in REGARDS) for `catalog_request_history`.
 */
const statements = [
  sql`create table catalog_product (
    id bigserial primary key,
    tenant text not null,
    urn varchar(255) not null,
    kind text not null check (kind in ('FEATURE', 'AIP')),
    provider_id text not null,
    version int not null,
    last boolean not null default true,
    model text,
    session_owner varchar(128),
    session varchar(128),
    origin_urn varchar(255),
    content jsonb not null,
    dissemination_status text not null default 'NONE' check (dissemination_status in ('NONE', 'PENDING', 'DONE')),
    created_at timestamptz not null default now(),
    last_update timestamptz not null default now(),
    unique (tenant, urn)
  )`,
  sql`create index catalog_product_provider on catalog_product (tenant, provider_id, version)`,
  sql`create index catalog_product_status on catalog_product (tenant, dissemination_status, id)`,
  sql`create table catalog_dissemination (
    product_id bigint not null references catalog_product (id) on delete cascade,
    tenant text not null,
    label varchar(128) not null,
    request_date timestamptz not null,
    ack_date timestamptz,
    blocking boolean not null default false,
    primary key (product_id, label)
  )`,
  sql`create index catalog_dissemination_label on catalog_dissemination (tenant, label, product_id)`,
  sql`create table catalog_request (
    id bigserial primary key,
    tenant text not null,
    request_id varchar(36) not null,
    request_owner varchar(128),
    type text not null check (type in ('CREATION', 'PATCH', 'DELETION', 'NOTIFICATION', 'AIP_DISSEMINATION')),
    state text not null check (state in ('GRANTED', 'ERROR')),
    step text not null,
    priority int not null default 1,
    request_date timestamptz not null,
    registration_date timestamptz not null default now(),
    urn varchar(255),
    provider_id text,
    body jsonb,
    recipients jsonb,
    to_notify jsonb,
    metadata jsonb,
    force_deletion boolean not null default false,
    errors jsonb,
    notified_at timestamptz,
    last_update timestamptz not null default now()
  )`,
  sql`create unique index catalog_request_request_id on catalog_request (tenant, request_id)`,
  // The worker's two queues: requests to process and requests to send to the notifier, each due by date.
  sql`create index catalog_request_due on catalog_request (step, priority desc, request_date, id)
    where step in ('LOCAL_DELAYED', 'LOCAL_TO_BE_NOTIFIED')`,
  sql`create index catalog_request_urn on catalog_request (tenant, urn)`,
  sql`create index catalog_request_state on catalog_request (tenant, state, id)`,
  sql`create table catalog_request_history (
    id bigint primary key,
    tenant text not null,
    request_id varchar(36) not null,
    request_owner varchar(128),
    type text not null,
    urn varchar(255),
    provider_id text,
    priority int not null,
    request_date timestamptz not null,
    registration_date timestamptz not null,
    completed_at timestamptz not null default now(),
    recipients jsonb not null default '[]'
  )`,
  sql`create index catalog_request_history_tenant on catalog_request_history (tenant, id)`,
  sql`create index catalog_request_history_completed on catalog_request_history (completed_at)`,
  // Tenant settings (REGARDS dynamic settings), e.g. active_notifications.
  sql`create table catalog_setting (
    tenant text not null,
    name text not null,
    value jsonb not null,
    primary key (tenant, name)
  )`,
  // Messages that changed nothing (unknown URN, duplicate ack …): counted here, per tenant, for operators.
  sql`create table catalog_counter (
    tenant text not null,
    name text not null,
    value bigint not null default 0,
    updated_at timestamptz not null default now(),
    primary key (tenant, name)
  )`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) await statement.execute(db)
}
