#!/usr/bin/env python3
"""Calls a running kovgis with nothing but gRPC server reflection: no .proto files needed.

    python3 -m venv .kovgis/venv
    .kovgis/venv/bin/pip install grpcio grpcio-reflection protobuf
    .kovgis/venv/bin/python scripts/example_client.py [HOST:PORT]

Lists the 79 municipalities, then finds the parcels under a WGS84 point in Pirita, Tallinn.
"""
import json
import os
import sys

try:
    import grpc
    from google.protobuf import descriptor_pool, json_format, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
except ImportError:
    sys.exit(
        "needs grpcio, grpcio-reflection and protobuf: python3 -m venv .kovgis/venv && "
        ".kovgis/venv/bin/pip install grpcio grpcio-reflection protobuf, then run it with "
        ".kovgis/venv/bin/python"
    )

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
# Every call but health and reflection needs a token: KOVGIS_TOKEN, or the demo official's token
# that scripts/run.sh writes on start.
token = os.environ.get("KOVGIS_TOKEN")
if not token:
    with open(os.path.join(".kovgis", "auth", "demo-official.token")) as f:
        token = f.read().strip()
auth = [("authorization", f"Bearer {token}")]
channel = grpc.insecure_channel(addr)
pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
service = pool.FindServiceByName("kovgis.v1.SpatialService")


def call(method_name, request_json):
    method = service.methods_by_name[method_name]
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    rpc = channel.unary_unary(
        f"/{service.full_name}/{method_name}",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    response = rpc(json_format.Parse(json.dumps(request_json), request_cls()), metadata=auth)
    return json_format.MessageToDict(response)


municipalities = call("ListMunicipalities", {})["municipalities"]
print(f"{len(municipalities)} municipalities, e.g.:")
for m in municipalities[:3] + [m for m in municipalities if m["code"] == "0784"]:
    print(f"  {m['code']} {m['name']}")

point = {"type": "Point", "coordinates": [24.8337, 59.4665]}  # Pirita harbour, WGS84 lon/lat
found = call(
    "FindParcels",
    {"containsPoint": {"geojson": json.dumps(point)}, "output": {"epsg": 4326, "omitGeometry": True}},
)
print(f"parcels at {point['coordinates']} (WGS84):")
for p in found.get("parcels", []):
    uses = ", ".join(f"{u['code']} {u.get('percent', 0)}%" for u in p.get("intendedUses", []))
    print(f"  {p['cadastralCode']}  {p.get('address', '')}  [{uses}]  municipality {p['municipalityCode']}")

# A 10 m × 10 m building in Tartu (across two parcels), checked against every rule in force.
footprint = "POLYGON((657600 6477150, 657610 6477150, 657610 6477160, 657600 6477160, 657600 6477150))"
report = call(
    "ValidateGeometry",
    {
        "municipalityCode": "0793",
        "procedureType": "building_permit",
        "geometry": {"wkt": footprint, "epsg": 3301},
        "intendedUse": "residential_building",
        "locale": "en",
        "output": {"omitGeometry": True},
    },
)
print(f"validation: {report['verdict']} on {', '.join(report.get('parcelCodes', []))}")
for f in report["findings"]:
    mark = "ok " if f.get("passed") else "!! "
    print(f"  {mark}{f['rule']:<20} {f['code']:<22} {f.get('message', '')}")
