-- wrk script: POST /api/v1/cases with the standard workload's form, as the API key in $KEY.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = '{"process": "bench.standard", "form": {"name": "职工", "years": 20}}'
wrk.path = "/api/v1/cases"

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
