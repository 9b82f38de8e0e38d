SELECT
  "t3"."member_id",
  "t3"."birth_date",
  CAST(NULL AS DATE) AS "death_date",
  "t3"."sex",
  CAST(NULL AS TEXT) AS "race_code",
  CAST(NULL AS TEXT) AS "zip_code",
  CAST(NULL AS TEXT) AS "state_code",
  CAST(NULL AS TEXT) AS "county_fips",
  CAST(NULL AS TEXT) AS "ssa_county_code",
  "t3"."dual_status_code",
  CAST(NULL AS TEXT) AS "orec",
  CAST(NULL AS TEXT) AS "crec",
  "t3"."esrd",
  CAST(NULL AS BOOLEAN) AS "institutional",
  CAST(NULL AS BOOLEAN) AS "medicaid",
  'csv' AS "source_format",
  "t3"."source_file",
  "t3"."source_line"
FROM (
  SELECT
    "t2"."member_id",
    "t2"."birth_date",
    "t2"."sex",
    "t2"."dual_status_code",
    "t2"."esrd",
    "t2"."_reason",
    "t2"."_field",
    "t2"."source_file",
    "t2"."source_line",
    "t2"."_record",
    "t2"."_valid",
    "t2"."_valid"
    AND (
      (
        ROW_NUMBER() OVER (
          PARTITION BY "t2"."_valid", "t2"."member_id"
          ORDER BY "t2"."source_file" ASC, "t2"."source_line" ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) - 1
      ) > 0
    ) AS "_later",
    FIRST_VALUE("t2"."source_line") OVER (
      PARTITION BY "t2"."_valid", "t2"."member_id"
      ORDER BY "t2"."source_file" ASC, "t2"."source_line" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "_first_line",
    FIRST_VALUE("t2"."source_file") OVER (
      PARTITION BY "t2"."_valid", "t2"."member_id"
      ORDER BY "t2"."source_file" ASC, "t2"."source_line" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS "_first_file"
  FROM (
    SELECT
      "t1"."member_id",
      "t1"."birth_date",
      "t1"."sex",
      "t1"."dual_status_code",
      "t1"."esrd",
      "t1"."_reason",
      "t1"."_field",
      "t1"."source_file",
      "t1"."source_line",
      "t1"."_record",
      "t1"."_reason" IS NULL AS "_valid"
    FROM (
      SELECT
        NULLIF(
          REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g'),
          ''
        ) AS "member_id",
        TRY_CAST(CASE
          WHEN REGEXP_MATCHES(
            NULLIF(
              REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
              ''
            ),
            '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
          )
          THEN NULLIF(
            REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
            ''
          )
          ELSE CAST(NULL AS TEXT)
        END AS DATE) AS "birth_date",
        NULLIF(
          REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g'),
          ''
        ) AS "sex",
        NULLIF(
          REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g'),
          ''
        ) AS "dual_status_code",
        CASE
          WHEN LOWER(
            NULLIF(
              REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
              ''
            )
          ) IN ('true', 't', '1', 'y', 'yes')
          THEN TRUE
          WHEN LOWER(
            NULLIF(
              REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
              ''
            )
          ) IN ('false', 'f', '0', 'n', 'no')
          THEN FALSE
          ELSE CAST(NULL AS BOOLEAN)
        END AS "esrd",
        NULLIF(
          CONCAT_WS(
            '; ',
            CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NULL
                )
                AND NOT (
                  FALSE
                ),
                FALSE
              )
              THEN 'member_id: required field is empty'
              WHEN COALESCE(FALSE, FALSE)
              THEN 'member_id: not a valid string'
              ELSE CAST(NULL AS TEXT)
            END,
            CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND (
                  TRY_CAST(CASE
                    WHEN REGEXP_MATCHES(
                      NULLIF(
                        REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      ),
                      '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                    )
                    THEN NULLIF(
                      REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                      ''
                    )
                    ELSE CAST(NULL AS TEXT)
                  END AS DATE) IS NULL
                ),
                FALSE
              )
              THEN 'birth_date: not a valid date (YYYY-MM-DD)'
              ELSE CAST(NULL AS TEXT)
            END,
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'sex: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND NOT (
                  NULLIF(
                    REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IN ('M', 'F', 'U')
                ),
                FALSE
              )
              THEN 'sex: unknown code (allowed: M, F, U)'
              ELSE CAST(NULL AS TEXT)
            END,
            CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'dual_status_code: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND NOT (
                  NULLIF(
                    REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
                ),
                FALSE
              )
              THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
              ELSE CAST(NULL AS TEXT)
            END,
            CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND (
                  CASE
                    WHEN LOWER(
                      NULLIF(
                        REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      )
                    ) IN ('true', 't', '1', 'y', 'yes')
                    THEN TRUE
                    WHEN LOWER(
                      NULLIF(
                        REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      )
                    ) IN ('false', 'f', '0', 'n', 'no')
                    THEN FALSE
                    ELSE CAST(NULL AS BOOLEAN)
                  END IS NULL
                ),
                FALSE
              )
              THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
              ELSE CAST(NULL AS TEXT)
            END
          ),
          ''
        ) AS "_reason",
        COALESCE(
          CASE
            WHEN CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."member_id", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NULL
                )
                AND NOT (
                  FALSE
                ),
                FALSE
              )
              THEN 'member_id: required field is empty'
              WHEN COALESCE(FALSE, FALSE)
              THEN 'member_id: not a valid string'
              ELSE CAST(NULL AS TEXT)
            END IS NULL
            THEN CAST(NULL AS TEXT)
            ELSE 'member_id'
          END,
          CASE
            WHEN CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND (
                  TRY_CAST(CASE
                    WHEN REGEXP_MATCHES(
                      NULLIF(
                        REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      ),
                      '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                    )
                    THEN NULLIF(
                      REGEXP_REPLACE("t0"."birth_date", '^[ 	
]+|[ 	
]+$', '', 'g'),
                      ''
                    )
                    ELSE CAST(NULL AS TEXT)
                  END AS DATE) IS NULL
                ),
                FALSE
              )
              THEN 'birth_date: not a valid date (YYYY-MM-DD)'
              ELSE CAST(NULL AS TEXT)
            END IS NULL
            THEN CAST(NULL AS TEXT)
            ELSE 'birth_date'
          END,
          CASE
            WHEN CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'sex: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND NOT (
                  NULLIF(
                    REGEXP_REPLACE("t0"."sex", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IN ('M', 'F', 'U')
                ),
                FALSE
              )
              THEN 'sex: unknown code (allowed: M, F, U)'
              ELSE CAST(NULL AS TEXT)
            END IS NULL
            THEN CAST(NULL AS TEXT)
            ELSE 'sex'
          END,
          CASE
            WHEN CASE
              WHEN COALESCE(FALSE, FALSE)
              THEN 'dual_status_code: not a valid string'
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND NOT (
                  NULLIF(
                    REGEXP_REPLACE("t0"."dual_status_code", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
                ),
                FALSE
              )
              THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
              ELSE CAST(NULL AS TEXT)
            END IS NULL
            THEN CAST(NULL AS TEXT)
            ELSE 'dual_status_code'
          END,
          CASE
            WHEN CASE
              WHEN COALESCE(
                (
                  NULLIF(
                    REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                    ''
                  ) IS NOT NULL
                )
                AND (
                  CASE
                    WHEN LOWER(
                      NULLIF(
                        REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      )
                    ) IN ('true', 't', '1', 'y', 'yes')
                    THEN TRUE
                    WHEN LOWER(
                      NULLIF(
                        REGEXP_REPLACE("t0"."esrd", '^[ 	
]+|[ 	
]+$', '', 'g'),
                        ''
                      )
                    ) IN ('false', 'f', '0', 'n', 'no')
                    THEN FALSE
                    ELSE CAST(NULL AS BOOLEAN)
                  END IS NULL
                ),
                FALSE
              )
              THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
              ELSE CAST(NULL AS TEXT)
            END IS NULL
            THEN CAST(NULL AS TEXT)
            ELSE 'esrd'
          END
        ) AS "_field",
        "t0"."source_file",
        "t0"."source_line",
        "t0"."_record"
      FROM "raw" AS "t0"
    ) AS "t1"
  ) AS "t2"
) AS "t3"
WHERE
  CASE
    WHEN "t3"."_later"
    THEN 'duplicate key (member_id): first loaded from ' || "t3"."_first_file" || ' line ' || CAST("t3"."_first_line" AS TEXT)
    ELSE "t3"."_reason"
  END IS NULL
