-- kovgis foundation schema: municipalities, dataset versions, parcels, layers and features.
--
-- Every geometry is EPSG:3301 (L-EST97, metres) with a GiST index. Every tenant-owned row carries
-- municipality_code from the start, so that row-level security and a Citus distribution by
-- municipality can be added without reshaping tables. National rows (national layers and their
-- features) have municipality_code NULL.
--
-- Versioning: every load is a dataset_version; parcels and features carry valid-time
-- (valid_from, valid_to) and are closed, never deleted, so an old procedure naming a parcel that
-- has since been split still resolves.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE municipality (
    municipality_code  char(4) PRIMARY KEY CHECK (municipality_code ~ '^[0-9]{4}$'),
    name               text NOT NULL,
    population         integer CHECK (population >= 0),
    boundary           geometry(MultiPolygon, 3301) NOT NULL
);
CREATE INDEX municipality_boundary_gist ON municipality USING gist (boundary);

CREATE TABLE dataset_version (
    id                 bigserial PRIMARY KEY,
    -- What the load was for: 'municipalities', 'parcels', or 'layer'.
    target             text NOT NULL CHECK (target IN ('municipalities', 'parcels', 'layer', 'derived')),
    -- Owning municipality for municipal layers; NULL for national data.
    municipality_code  char(4) REFERENCES municipality,
    layer_id           bigint,
    -- Where the data came from (file name or source system) and its content hash.
    source             text NOT NULL,
    file_sha256        text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    imported_at        timestamptz NOT NULL DEFAULT now(),
    rows_read          integer NOT NULL DEFAULT 0,
    rows_written       integer NOT NULL DEFAULT 0,
    rows_skipped       integer NOT NULL DEFAULT 0,
    rows_closed        integer NOT NULL DEFAULT 0
);
CREATE INDEX dataset_version_source ON dataset_version (target, source, file_sha256);

CREATE TABLE parcel (
    id                 bigserial PRIMARY KEY,
    cadastral_code     text NOT NULL CHECK (cadastral_code ~ '^[0-9]{5}:[0-9]{3}:[0-9]{4}$'),
    -- From the geometry (the municipality under the parcel), never from the cadastral code.
    municipality_code  char(4) NOT NULL REFERENCES municipality,
    address            text,
    -- Intended uses (sihtotstarve) and their shares (so_prts), up to three, in register order.
    use1_code          text,
    use1_pct           smallint CHECK (use1_pct BETWEEN 0 AND 100),
    use2_code          text,
    use2_pct           smallint CHECK (use2_pct BETWEEN 0 AND 100),
    use3_code          text,
    use3_pct           smallint CHECK (use3_pct BETWEEN 0 AND 100),
    registered_area_m2 double precision CHECK (registered_area_m2 >= 0),
    -- Everything else the source carried, untouched.
    attributes         jsonb NOT NULL DEFAULT '{}',
    geom               geometry(MultiPolygon, 3301) NOT NULL,
    valid_from         timestamptz NOT NULL DEFAULT now(),
    valid_to           timestamptz,
    dataset_version_id bigint NOT NULL REFERENCES dataset_version,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX parcel_current_code ON parcel (cadastral_code) WHERE valid_to IS NULL;
CREATE INDEX parcel_code_history ON parcel (cadastral_code, valid_from);
CREATE INDEX parcel_geom_gist ON parcel USING gist (geom);
CREATE INDEX parcel_municipality ON parcel (municipality_code) WHERE valid_to IS NULL;

CREATE TYPE layer_kind AS ENUM ('zoning', 'restriction', 'building', 'detailed_plan', 'other');

CREATE TABLE layer (
    id                 bigserial PRIMARY KEY,
    -- NULL: a national layer every municipality sees.
    municipality_code  char(4) REFERENCES municipality,
    name               text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]*$'),
    title              text NOT NULL,
    kind               layer_kind NOT NULL,
    description        text NOT NULL DEFAULT '',
    attribution        text NOT NULL DEFAULT '',
    -- Authority to coordinate with about this layer's restrictions (e.g. Keskkonnaamet).
    authority          text,
    current_version_id bigint REFERENCES dataset_version,
    UNIQUE NULLS NOT DISTINCT (municipality_code, name)
);

ALTER TABLE dataset_version
    ADD CONSTRAINT dataset_version_layer_fk FOREIGN KEY (layer_id) REFERENCES layer;

CREATE TABLE feature (
    id                 bigserial PRIMARY KEY,
    layer_id           bigint NOT NULL REFERENCES layer,
    -- Copied from the layer: NULL for national layers.
    municipality_code  char(4) REFERENCES municipality,
    external_id        text,
    attributes         jsonb NOT NULL DEFAULT '{}',
    geom               geometry(Geometry, 3301) NOT NULL,
    valid_from         timestamptz NOT NULL DEFAULT now(),
    valid_to           timestamptz,
    dataset_version_id bigint NOT NULL REFERENCES dataset_version,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX feature_geom_gist ON feature USING gist (geom);
CREATE INDEX feature_layer_current ON feature (layer_id, id) WHERE valid_to IS NULL;
CREATE INDEX feature_external ON feature (layer_id, external_id);
